// Keeping the original's fine detail where the generator blurs it. A generator at 128 px
// reproduces an eye, a lash line or an eyebrow softer than the crop it was given, so its change
// holds the negative of that detail: blended back, the face loses its sharpest features (the
// younger face most: the model smooths skin and eyes alike). Where the generator adds fine
// detail of its own (wrinkles, pores, grey strands) its change is kept whole.
//
// Both faces are split at model resolution into a low band (a 5 x 5 tent blur) and a high band
// (the rest). Per pixel, the local energy of each high band (summed over channels, averaged over
// 5 x 5) says how much fine detail each holds; where the generator holds less, the high band of
// the change is scaled down by the share it lost, times `amount`:
//   k = amount * max(0, 1 - E_gen / E_orig),   change = (gen - orig) - k * (hi_gen - hi_orig)
// so with amount 1 a pixel whose detail the generator wiped out keeps the original's, and the
// low band (colour, shading, the shape of age) always passes.
#ifndef AGESHIFT_DETAIL_KEEP_H
#define AGESHIFT_DETAIL_KEEP_H

#include <stddef.h>

// The default amount (the filter's --detail), chosen with make quality.
#define DETAIL_KEEP_DEFAULT 1.0f

// The work detail_keep needs, in planes of size * size floats.
#define DETAIL_KEEP_WORK_PLANES 10

// orig and gen: (3, size, size) planar; change: (3, size, size), gen - orig on entry (any
// colour shift already in it: a constant per channel, which lies in the low band), the change
// with the original's detail kept on return. work: DETAIL_KEEP_WORK_PLANES * size * size floats.
// amount 0..1 (0 leaves change as it is).
void detail_keep(const float *orig, const float *gen, int size, float amount, float *change,
                 float *work);

#endif
