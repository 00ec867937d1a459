// A built-in bitmap font for chart labels, so plots need no font files or libraries. Glyphs are
// 5 pixels wide and 9 tall: capitals and digits fill rows 0-6 (the baseline is under row 6),
// rows 7-8 hold descenders (g j p q y , ;). Each character advances 6 pixels (one column of
// spacing), all of it times `scale`. Printable ASCII 32..126 has glyphs; any other byte draws
// as a hollow box so a missing character is visible rather than silently dropped.
#ifndef AGESHIFT_FONT_H
#define AGESHIFT_FONT_H

#include <stdint.h>

#include "media/image_io.h"

#define FONT_GLYPH_W 5 // glyph bitmap width
#define FONT_GLYPH_H 9 // glyph bitmap height, descenders included
#define FONT_CAP_H 7   // height of capitals and digits: what to centre on a tick
#define FONT_ADVANCE 6 // horizontal distance between consecutive characters

// Draws text with its first cell's top-left corner at (x, y), each font pixel a scale x scale
// block (scale < 1 is treated as 1). Pixels outside the image are clipped, whatever x and y are.
// NULL img or text draws nothing.
void font_draw(Image *img, int x, int y, const char *text, int scale, uint8_t r, uint8_t g,
               uint8_t b);

// Width in pixels of the drawn text: from the left edge of the first glyph to the right edge of
// the last, without the spacing column after it (so centring is exact). 0 for "" or NULL.
int font_text_width(const char *text, int scale);

#endif
