// The artefact guard: a face whose change looks broken is shown with less of it. On footage
// unlike its training faces a generator can break a face into blotches (new red, brown or
// black patches, burns, pale patches) while the rest of it ages well; the guard measures how
// much of the face is broken that way and scales the change down past what the test split's
// faces give, so such a face is shown weaker rather than broken (--strength still caps all).
//
// The score is make quality's artefact score (bench/quality/metrics.js) taken on the change
// alone, in model coordinates: the face's box (the bounding box of the alignment template's
// landmarks, where every aligned face lies) sampled at 64 x 64, the change averaged over 3 x 3,
// and the share of the box in percent whose change departs from the face's median change by
// more than GUARD_COLOUR in colour or GUARD_LIGHTNESS in lightness. A tint or a lightening of
// the whole face, and the fine shading of a wrinkle, are not blotches.
#ifndef AGESHIFT_ARTEFACT_GUARD_H
#define AGESHIFT_ARTEFACT_GUARD_H

// Thresholds in levels of 0..255 on opponent colours of the change (r - g, (r + g) / 2 - b;
// lightness (r + g + b) / 3).
#define GUARD_COLOUR 20.0f
#define GUARD_LIGHTNESS 25.0f
// The factor: 1 up to a score of GUARD_FROM percent, falling linearly to 0 at GUARD_TO. Set by
// bench/quality/guard_scores on the default model's test split (80 faces each way, through the
// filter): median 9.1 (young to old) and 10.7 (old to young), 95th percentile 30.4 and 23.3,
// highest 46.8 and 36.1 (heavy eye make-up turned green). So a face is held back only past
// what nearly all test faces give, and a change broken over half the face is not shown.
#define GUARD_FROM 30.0f
#define GUARD_TO 50.0f
// The default amount (the filter's --guard).
#define GUARD_DEFAULT 1.0f

#define GUARD_GRID 64

// The score, in percent, of a change (3, size, size) in [-1, 1] units (gen - orig) of an
// aligned face. work: 4 * GUARD_GRID * GUARD_GRID floats.
float artefact_guard_score(const float *change, int size, float *work);

// The factor the change is scaled by, for a score and an amount 0..1 (0: always 1).
float artefact_guard_factor(float score, float amount);

#endif
