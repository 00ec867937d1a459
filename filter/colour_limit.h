// A limit on the new colours a change brings. On webcam faces a generator's older face gets red
// cheek blotches and grey-green patches (make quality's d3 and d6 sheets): a colour added over a
// part of the face that the rest of the face does not get. Age itself changes a face's colour
// little but evenly (a tint), and greys hair and brows: their colour fades towards grey along
// their own hue. So, per pixel of the change, in the opponent colours the artefact guard reads
// (r - g and (r + g) / 2 - b, levels of 0..255): against the face's median change (the even
// tint), the part that fades the pixel towards grey passes whole, up to grey itself, and the
// rest (a new hue, more saturation, past grey) is held to `limit` levels. Lightness, where
// wrinkles and shading live, passes whole.
#ifndef AGESHIFT_COLOUR_LIMIT_H
#define AGESHIFT_COLOUR_LIMIT_H

#include <stddef.h>

// The default limit (the filter's --colour-limit), in levels; 0 turns the limit off. Chosen by
// make quality QUICK=1 with the default model: the clips' older artefact score 0.7 without it,
// 0.2 at 12, 0.1 at 8 and 6; the estimator's shifts the same at 12 and 8, while 6 cost a year
// on the younger clips (-2.4 to -1.4) and on the older photos (+3.9 to +3.2). By eye (d3, d6)
// 8 takes most of the red off the cheeks and the orange off the brow; the even tint stays.
#define COLOUR_LIMIT_DEFAULT 8.0f

// Floats of work colour_limit needs for a face of size x size.
#define COLOUR_LIMIT_WORK_FLOATS(size) (2 * (size_t)(size) * (size_t)(size))

// orig: the face (3, size, size) in [-1, 1]; change: (3, size, size), gen - orig, limited in
// place. The median is taken over the aligned face's box (align_template_bounds).
void colour_limit(const float *orig, float *change, int size, float limit, float *work);

#endif
