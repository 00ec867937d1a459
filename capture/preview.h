// Live preview window (SDL2): shows the aged frame alone or next to the original, optionally
// mirrored like a selfie camera, letterboxed into whatever size the user drags the window to,
// with a one-line status overlay at the top-left; reports key presses as actions.
//
// Keys: space = toggle direction, m = mirror, v = view, s = snapshot, + or = stronger,
// - weaker, q / Esc / closing the window = quit.
//
// SDL keeps process-wide state, so use one Preview at a time, from the thread that opened it.
#ifndef AGESHIFT_PREVIEW_H
#define AGESHIFT_PREVIEW_H

#include <stdbool.h>

#include "core/base/err.h"
#include "media/image_io.h"

typedef struct Preview Preview;

typedef enum { VIEW_AGED, VIEW_SIDE_BY_SIDE } PreviewView;

typedef enum {
    PREVIEW_NONE,
    PREVIEW_QUIT,
    PREVIEW_TOGGLE_DIRECTION,
    PREVIEW_TOGGLE_MIRROR,
    PREVIEW_TOGGLE_VIEW,
    PREVIEW_SNAPSHOT,
    PREVIEW_STRONGER,
    PREVIEW_WEAKER
} PreviewAction;

// Opens a resizable window titled `title` (NULL: "ageshift"), width x height pixels to start
// with. Returns NULL with a reason in err when there is no display (the reason then contains
// "no display" and suggests --no-window) or when SDL cannot create the window or renderer.
Preview *preview_open(const char *title, int width, int height, Err *err);

// Draws one frame and presents it. VIEW_AGED shows `aged` alone (`original` may be NULL);
// VIEW_SIDE_BY_SIDE shows `original` on the left and `aged` on the right, each vertically centred
// when their heights differ. The picture is letterboxed into the window's current size, keeping
// its aspect; `mirror` flips each picture left-right in place (the original stays on the left).
// `overlay` (NULL or "" for none) is drawn as white text on a dark band at the window's top-left,
// at a fixed pixel size whatever the window size. Images are RGB24 (see Image).
// Returns 0, or -1 with a reason in err (bad arguments, SDL failures).
int preview_show(Preview *p, const Image *original, const Image *aged, PreviewView view,
                 bool mirror, const char *overlay, Err *err);

// Handles pending window events without blocking and returns the first user action among them
// (the rest stay queued for the next call), or PREVIEW_NONE when there is none. Held-down keys
// repeat only for stronger/weaker. Call it once per frame, at least, so the window stays
// responsive.
PreviewAction preview_poll(Preview *p);

// Closes the window and releases SDL's video subsystem. NULL is a no-op.
void preview_close(Preview *p);

// Where a w x h picture goes when letterboxed (or pillarboxed) into a win_w x win_h window: the
// largest rectangle of the picture's aspect that fits, centred; *x, *y is its top-left corner and
// *dw x *dh its size. Any size <= 0 gives an all-zero rectangle.
void preview_letterbox(int w, int h, int win_w, int win_h, int *x, int *y, int *dw, int *dh);

// The underlying SDL_Window, for tests and callers that need SDL directly (position, size).
struct SDL_Window *preview_sdl_window(Preview *p);

#endif
