// Live preview window on SDL2's 2D renderer: one streaming RGB24 texture per shown picture
// (recreated when a frame's size changes or the renderer loses its textures), an ARGB overlay
// texture for the status line, and letterboxing recomputed from the renderer's output size on
// every frame, so resizes need no special handling.
#include "capture/preview.h"

#include <SDL.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/font.h"

#define PREVIEW_MAX_DIM 32768 // larger frames are certainly a caller bug
#define OVERLAY_ALPHA 160     // opacity of the band behind the overlay text
#define OVERLAY_MARGIN 4      // window pixels between the window corner and the band

typedef struct {
    SDL_Texture *tex;
    int w, h;
} Slot;

struct Preview {
    SDL_Window *win;
    SDL_Renderer *ren;
    Slot pic[2];     // [0]: the left (or only) picture, [1]: the right one
    SDL_Texture *ov; // overlay band, ARGB8888, ov_w x ov_h (may be larger than needed)
    int ov_w, ov_h;
    Image ov_img; // the overlay text rendered by font_draw, reused between frames
    size_t ov_cap;
    bool textures_lost;
};

void preview_letterbox(int w, int h, int win_w, int win_h, int *x, int *y, int *dw, int *dh)
{
    int rx = 0, ry = 0, rw = 0, rh = 0;
    if (w > 0 && h > 0 && win_w > 0 && win_h > 0) {
        int64_t W = w, H = h, WW = win_w, WH = win_h;
        if (W * WH >= WW * H) { // relatively wider than the window: full width, bars above/below
            rw = win_w;
            rh = (int)((H * WW + W / 2) / W);
        } else { // taller: full height, bars left/right
            rh = win_h;
            rw = (int)((W * WH + H / 2) / H);
        }
        if (rw < 1)
            rw = 1;
        if (rh < 1)
            rh = 1;
        if (rw > win_w)
            rw = win_w;
        if (rh > win_h)
            rh = win_h;
        rx = (win_w - rw) / 2;
        ry = (win_h - rh) / 2;
    }
    if (x)
        *x = rx;
    if (y)
        *y = ry;
    if (dw)
        *dw = rw;
    if (dh)
        *dh = rh;
}

static void destroy_textures(Preview *p)
{
    for (int i = 0; i < 2; i++) {
        if (p->pic[i].tex)
            SDL_DestroyTexture(p->pic[i].tex);
        p->pic[i] = (Slot){NULL, 0, 0};
    }
    if (p->ov)
        SDL_DestroyTexture(p->ov);
    p->ov = NULL;
    p->ov_w = p->ov_h = 0;
}

Preview *preview_open(const char *title, int width, int height, Err *err)
{
    if (width <= 0 || height <= 0 || width > PREVIEW_MAX_DIM || height > PREVIEW_MAX_DIM) {
        err_set(err, "preview_open: window size %dx%d is out of range (1..%d)", width, height,
                PREVIEW_MAX_DIM);
        return NULL;
    }
#if defined(__unix__) && !defined(__APPLE__)
    // Without an X or Wayland display SDL would try the console (KMS/DRM) drivers, which is never
    // what a user of a preview window wants; an explicit SDL_VIDEODRIVER is respected.
    const char *display = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    const char *driver = getenv("SDL_VIDEODRIVER");
    if ((!display || !*display) && (!wayland || !*wayland) && (!driver || !*driver)) {
        err_set(err, "no display available (DISPLAY is not set): use --no-window");
        return NULL;
    }
#endif
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
        err_set(err, "no display available (SDL video init failed: %s): use --no-window",
                SDL_GetError());
        return NULL;
    }
    // SDL falls back to its invisible offscreen driver when DISPLAY names no running server.
    const char *got = SDL_GetCurrentVideoDriver();
    const char *asked = getenv("SDL_VIDEODRIVER");
    if (got && (!strcmp(got, "offscreen") || !strcmp(got, "dummy")) &&
        !(asked && strstr(asked, got))) {
        const char *d = getenv("DISPLAY");
        err_set(err, "no display available (cannot open display \"%s\"): use --no-window",
                d ? d : "");
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        return NULL;
    }
    Preview *p = calloc(1, sizeof *p);
    if (!p) {
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        err_set(err, "preview_open: out of memory");
        return NULL;
    }
    p->win =
        SDL_CreateWindow(title ? title : "ageshift", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                         width, height, SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (!p->win) {
        err_set(err, "preview_open: cannot create a %dx%d window: %s", width, height,
                SDL_GetError());
        preview_close(p);
        return NULL;
    }
    p->ren = SDL_CreateRenderer(p->win, -1, 0);
    if (!p->ren)
        p->ren = SDL_CreateRenderer(p->win, -1, SDL_RENDERER_SOFTWARE);
    if (!p->ren) {
        err_set(err, "preview_open: cannot create a renderer for the window: %s", SDL_GetError());
        preview_close(p);
        return NULL;
    }
    return p;
}

void preview_close(Preview *p)
{
    if (!p)
        return;
    destroy_textures(p);
    free(p->ov_img.rgb);
    if (p->ren)
        SDL_DestroyRenderer(p->ren);
    if (p->win)
        SDL_DestroyWindow(p->win);
    free(p);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

struct SDL_Window *preview_sdl_window(Preview *p)
{
    return p ? p->win : NULL;
}

static int check_image(const Image *img, const char *name, Err *err)
{
    if (!img)
        return err_set(err, "preview_show: %s image is NULL", name);
    if (!img->rgb)
        return err_set(err, "preview_show: %s image has no pixels", name);
    if (img->w <= 0 || img->h <= 0 || img->w > PREVIEW_MAX_DIM || img->h > PREVIEW_MAX_DIM)
        return err_set(err, "preview_show: %s image is %dx%d, expected 1..%d on each side", name,
                       img->w, img->h, PREVIEW_MAX_DIM);
    return 0;
}

// Uploads img into slot s, recreating the texture when the size changed.
static int upload(Preview *p, Slot *s, const Image *img, Err *err)
{
    if (!s->tex || s->w != img->w || s->h != img->h) {
        if (s->tex)
            SDL_DestroyTexture(s->tex);
        *s = (Slot){NULL, 0, 0};
        s->tex = SDL_CreateTexture(p->ren, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STREAMING,
                                   img->w, img->h);
        if (!s->tex)
            return err_set(err, "preview_show: cannot create a %dx%d texture: %s", img->w, img->h,
                           SDL_GetError());
        SDL_SetTextureScaleMode(s->tex, SDL_ScaleModeLinear);
        s->w = img->w;
        s->h = img->h;
    }
    if (SDL_UpdateTexture(s->tex, NULL, img->rgb, img->w * 3) != 0)
        return err_set(err, "preview_show: cannot upload a %dx%d frame: %s", img->w, img->h,
                       SDL_GetError());
    return 0;
}

// Draws the status line: font_draw into a small RGB image (white on black), then copied into the
// ARGB overlay texture with the black made translucent, then drawn at the window's corner.
static int draw_overlay(Preview *p, const char *text, int out_w, Err *err)
{
    int scale = out_w >= 480 ? 2 : 1;
    int pad = 3 * scale;
    int w = font_text_width(text, scale) + 2 * pad;
    int h = FONT_GLYPH_H * scale + 2 * pad;
    if (w > PREVIEW_MAX_DIM)
        w = PREVIEW_MAX_DIM;
    size_t need = (size_t)w * (size_t)h * 3;
    if (need > p->ov_cap) {
        uint8_t *buf = realloc(p->ov_img.rgb, need);
        if (!buf)
            return err_set(err, "preview_show: out of memory for the overlay");
        p->ov_img.rgb = buf;
        p->ov_cap = need;
    }
    p->ov_img.w = w;
    p->ov_img.h = h;
    memset(p->ov_img.rgb, 0, need);
    font_draw(&p->ov_img, pad, pad, text, scale, 255, 255, 255);

    if (!p->ov || p->ov_w < w || p->ov_h < h) {
        int tw = w > p->ov_w ? w + 64 : p->ov_w; // some room so a growing text rarely recreates
        int th = h > p->ov_h ? h : p->ov_h;
        if (tw > PREVIEW_MAX_DIM)
            tw = PREVIEW_MAX_DIM;
        if (p->ov)
            SDL_DestroyTexture(p->ov);
        p->ov_w = p->ov_h = 0;
        p->ov = SDL_CreateTexture(p->ren, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING, tw,
                                  th);
        if (!p->ov)
            return err_set(err, "preview_show: cannot create the overlay texture: %s",
                           SDL_GetError());
        SDL_SetTextureBlendMode(p->ov, SDL_BLENDMODE_BLEND);
        p->ov_w = tw;
        p->ov_h = th;
    }
    SDL_Rect src = {0, 0, w, h};
    void *pixels;
    int pitch;
    if (SDL_LockTexture(p->ov, &src, &pixels, &pitch) != 0)
        return err_set(err, "preview_show: cannot lock the overlay texture: %s", SDL_GetError());
    for (int y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)((uint8_t *)pixels + (size_t)y * (size_t)pitch);
        const uint8_t *in = p->ov_img.rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) {
            uint32_t r = in[3 * x], g = in[3 * x + 1], b = in[3 * x + 2];
            uint32_t a = (r | g | b) ? 255u : OVERLAY_ALPHA;
            row[x] = a << 24 | r << 16 | g << 8 | b;
        }
    }
    SDL_UnlockTexture(p->ov);
    SDL_Rect dst = {OVERLAY_MARGIN, OVERLAY_MARGIN, w, h};
    if (SDL_RenderCopy(p->ren, p->ov, &src, &dst) != 0)
        return err_set(err, "preview_show: cannot draw the overlay: %s", SDL_GetError());
    return 0;
}

// The window rectangle of a pw x ph panel placed at column ox of a cw x ch composite (vertically
// centred in it) when the composite is drawn into the rectangle d.
static SDL_Rect panel_rect(SDL_Rect d, int cw, int ch, int ox, int pw, int ph)
{
    int64_t x0 = d.x + (int64_t)ox * d.w / cw;
    int64_t x1 = d.x + (int64_t)(ox + pw) * d.w / cw;
    int64_t y0 = d.y + (int64_t)(ch - ph) * d.h / (2 * (int64_t)ch);
    int64_t hh = (int64_t)ph * d.h / ch;
    return (SDL_Rect){(int)x0, (int)y0, (int)(x1 - x0), (int)hh};
}

int preview_show(Preview *p, const Image *original, const Image *aged, PreviewView view,
                 bool mirror, const char *overlay, Err *err)
{
    if (!p)
        return err_set(err, "preview_show: preview is NULL");
    if (view != VIEW_AGED && view != VIEW_SIDE_BY_SIDE)
        return err_set(err, "preview_show: unknown view %d", (int)view);
    if (check_image(aged, "aged", err))
        return -1;
    bool sbs = view == VIEW_SIDE_BY_SIDE;
    if (sbs && check_image(original, "original", err))
        return -1;

    if (p->textures_lost) {
        destroy_textures(p);
        p->textures_lost = false;
    }
    const Image *left = sbs ? original : aged;
    if (upload(p, &p->pic[0], left, err))
        return -1;
    if (sbs && upload(p, &p->pic[1], aged, err))
        return -1;

    int out_w = 0, out_h = 0;
    if (SDL_GetRendererOutputSize(p->ren, &out_w, &out_h) != 0)
        return err_set(err, "preview_show: cannot read the window size: %s", SDL_GetError());
    SDL_RenderSetViewport(p->ren, NULL);
    SDL_SetRenderDrawColor(p->ren, 0, 0, 0, 255);
    SDL_RenderClear(p->ren);

    int cw = left->w + (sbs ? aged->w : 0);
    int ch = left->h;
    if (sbs && aged->h > ch)
        ch = aged->h;
    SDL_Rect d;
    preview_letterbox(cw, ch, out_w, out_h, &d.x, &d.y, &d.w, &d.h);
    if (d.w > 0 && d.h > 0) {
        SDL_RendererFlip flip = mirror ? SDL_FLIP_HORIZONTAL : SDL_FLIP_NONE;
        SDL_Rect r0 = panel_rect(d, cw, ch, 0, left->w, left->h);
        if (SDL_RenderCopyEx(p->ren, p->pic[0].tex, NULL, &r0, 0.0, NULL, flip) != 0)
            return err_set(err, "preview_show: cannot draw the frame: %s", SDL_GetError());
        if (sbs) {
            SDL_Rect r1 = panel_rect(d, cw, ch, left->w, aged->w, aged->h);
            if (SDL_RenderCopyEx(p->ren, p->pic[1].tex, NULL, &r1, 0.0, NULL, flip) != 0)
                return err_set(err, "preview_show: cannot draw the frame: %s", SDL_GetError());
        }
    }
    if (overlay && *overlay && out_w > 0 && out_h > 0 && draw_overlay(p, overlay, out_w, err))
        return -1;
    SDL_RenderPresent(p->ren);
    return 0;
}

static PreviewAction key_action(const SDL_KeyboardEvent *k)
{
    switch (k->keysym.sym) {
    case SDLK_PLUS:
    case SDLK_EQUALS:
    case SDLK_KP_PLUS: return PREVIEW_STRONGER;
    case SDLK_MINUS:
    case SDLK_KP_MINUS: return PREVIEW_WEAKER;
    default: break;
    }
    if (k->repeat)
        return PREVIEW_NONE; // a held key toggles once
    switch (k->keysym.sym) {
    case SDLK_SPACE: return PREVIEW_TOGGLE_DIRECTION;
    case SDLK_m: return PREVIEW_TOGGLE_MIRROR;
    case SDLK_v: return PREVIEW_TOGGLE_VIEW;
    case SDLK_s: return PREVIEW_SNAPSHOT;
    case SDLK_q:
    case SDLK_ESCAPE: return PREVIEW_QUIT;
    default: return PREVIEW_NONE;
    }
}

PreviewAction preview_poll(Preview *p)
{
    if (!p)
        return PREVIEW_NONE;
    // Pump once, then drain the queue without pumping again: SDL_PollEvent would stop at the
    // sentinel it leaves behind when an earlier call returned early, delaying queued actions.
    SDL_PumpEvents();
    SDL_Event ev;
    while (SDL_PeepEvents(&ev, 1, SDL_GETEVENT, SDL_FIRSTEVENT, SDL_LASTEVENT) == 1) {
        switch (ev.type) {
        case SDL_QUIT: return PREVIEW_QUIT;
        case SDL_WINDOWEVENT:
            if (ev.window.event == SDL_WINDOWEVENT_CLOSE)
                return PREVIEW_QUIT;
            break;
        case SDL_RENDER_TARGETS_RESET:
        case SDL_RENDER_DEVICE_RESET: p->textures_lost = true; break;
        case SDL_KEYDOWN: {
            PreviewAction a = key_action(&ev.key);
            if (a != PREVIEW_NONE)
                return a;
            break;
        }
        default: break;
        }
    }
    return PREVIEW_NONE;
}
