// Loss-curve charts drawn into an RGB image, so the trainer can save PNG plots a person can look
// at: a title, a legend, "nice" y ticks (1, 2, 5 x 10^k) with labels and a light grid, iteration
// numbers along x, and each series drawn twice: its raw values faint and a debiased exponential
// moving average (the smoothing TensorBoard applies) bold on top.
#ifndef AGESHIFT_PLOT_H
#define AGESHIFT_PLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base/err.h"
#include "media/image_io.h"

typedef struct {
    const char *name;    // legend text; NULL shows the colour swatch only
    const float *values; // count values; NaN and Inf (and values <= 0 on a log axis) are skipped
    int count;
    uint8_t r, g, b; // the smoothed line's colour; the raw line is a paler tint of it
} PlotSeries;

// Draws the chart over the whole of img (already allocated, e.g. 800x450; its previous contents
// are replaced by a white background). values[i] of every series is at
// x = x_first + i * x_step, and x_label names that axis. smoothing is the EMA weight in [0, 1)
// (0.98 is heavy, 0 draws the raw values only). log_y puts the y axis on a log10 scale.
// Any number of points works: columns holding many points are drawn as their min-max span.
// Text grows with the image (one font pixel per 800x450). title and x_label may be NULL.
// Errors: NULL or unallocated img, an image too small for axes and labels, no series, a series
// with a negative count or NULL values, smoothing outside [0, 1), x_first or x_step not finite
// or x_step <= 0.
int plot_render(Image *img, const char *title, const char *x_label, double x_first, double x_step,
                const PlotSeries *series, int n_series, float smoothing, bool log_y, Err *err);

#endif
