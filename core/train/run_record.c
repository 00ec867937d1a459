// What a training run leaves to look at: losses.csv, a plot per loss, and sample grids of test
// faces translated both ways.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/atomic_file.h"
#include "core/train/run.h"
#include "media/font.h"
#include "media/image_io.h"
#include "media/plot.h"

// The names of the losses, in LossRow order: losses.csv's columns and the plots' files.
static const char *const loss_names[N_LOSSES] = {"loss_G", "loss_G_identity", "loss_G_GAN",
                                                 "loss_G_cycle", "loss_D"};

// losses.csv reaches the disk before the checkpoint that refers to it.
int run_sync_csv(Run *r, Err *err)
{
    if (fflush(r->csv) != 0 || fsync(fileno(r->csv)) != 0)
        return err_set(err, "%s/losses.csv: cannot write: %s", r->dir, strerror(errno));
    return 0;
}

static int push_row(Run *r, const LossRow *row, Err *err)
{
    if (r->n_rows == r->cap_rows) {
        long cap = r->cap_rows ? 2 * r->cap_rows : 4096;
        LossRow *rows = realloc(r->rows, (size_t)cap * sizeof *rows);
        if (!rows)
            return err_set(err, "out of memory for the loss history");
        r->rows = rows;
        r->cap_rows = cap;
    }
    r->rows[r->n_rows++] = *row;
    return 0;
}

static void write_row(FILE *fp, const LossRow *row)
{
    fprintf(fp, "%ld,%d", row->iteration, row->epoch);
    for (int i = 0; i < N_LOSSES; i++)
        fprintf(fp, ",%.6g", row->loss[i]);
    fprintf(fp, ",%.6g\n", row->lr);
}

static void write_header(FILE *fp)
{
    fprintf(fp, "iteration,epoch");
    for (int i = 0; i < N_LOSSES; i++)
        fprintf(fp, ",%s", loss_names[i]);
    fprintf(fp, ",lr\n");
}

// On resume: keeps the rows up to the checkpoint's iteration (later ones will be trained
// again), rewrites the file with them, and opens it for appending.
int run_open_csv(Run *r, bool resume, Err *err)
{
    char path[4096];
    run_path(r, path, sizeof path, "losses.csv");
    if (resume) {
        FILE *in = fopen(path, "r");
        char line[512];
        if (in) {
            while (fgets(line, sizeof line, in)) {
                LossRow row;
                if (sscanf(line, "%ld,%d,%f,%f,%f,%f,%f,%f", &row.iteration, &row.epoch,
                           &row.loss[0], &row.loss[1], &row.loss[2], &row.loss[3], &row.loss[4],
                           &row.lr) == 8 &&
                    row.iteration <= r->iteration && push_row(r, &row, err)) {
                    fclose(in);
                    return -1;
                }
            }
            fclose(in);
        }
        if (r->n_rows < r->iteration)
            run_note(r, "losses.csv holds %ld of the %ld iterations done; the plots start later",
                     r->n_rows, r->iteration);
    }
    AtomicFile f;
    if (atomic_open(&f, path, err))
        return -1;
    write_header(f.fp);
    for (long i = 0; i < r->n_rows; i++)
        write_row(f.fp, &r->rows[i]);
    if (atomic_commit(&f, err))
        return -1;
    r->csv = fopen(path, "a");
    if (!r->csv)
        return err_set(err, "cannot append to %s: %s", path, strerror(errno));
    return 0;
}

int run_save_plots(Run *r, Err *err)
{
    if (r->n_rows == 0)
        return 0;
    float *values = malloc((size_t)r->n_rows * sizeof *values);
    Image img = {0};
    int rc = -1;
    if (!values || image_alloc(&img, 800, 450, err)) {
        err_set(err, "out of memory for the plots");
        goto done;
    }
    static const uint8_t colour[N_LOSSES][3] = {
        {31, 119, 180}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {255, 127, 14}};
    for (int i = 0; i < N_LOSSES; i++) {
        for (long j = 0; j < r->n_rows; j++)
            values[j] = r->rows[j].loss[i];
        PlotSeries s = {loss_names[i], values,       (int)r->n_rows,
                        colour[i][0],  colour[i][1], colour[i][2]};
        char title[64], path[4096];
        snprintf(title, sizeof title, "%s", loss_names[i]);
        snprintf(path, sizeof path, "%s/%s.png", r->dir, loss_names[i]);
        if (plot_render(&img, title, "iteration", (double)r->rows[0].iteration, 1.0, &s, 1, 0.98f,
                        false, err) ||
            image_save(path, &img, err))
            goto done;
    }
    rc = 0;
done:
    free(values);
    image_free(&img);
    return rc;
}

// Up to `count` test faces of a domain, resized to the training size, as planar floats.
static int load_faces(const ImageList *list, int count, int size, float *out, int *loaded, Err *err)
{
    *loaded = 0;
    for (int i = 0; i < list->count && *loaded < count; i++) {
        Image src = {0}, small = {0};
        if (image_load(list->paths[i], &src, err) || image_resize(&src, size, size, &small, err)) {
            image_free(&src);
            return -1;
        }
        image_to_planar(&small, out + (size_t)*loaded * 3 * size * size);
        (*loaded)++;
        image_free(&src);
        image_free(&small);
    }
    return 0;
}

static void paste(Image *grid, const float *chw, int size, int x0, int y0, int scale)
{
    for (int y = 0; y < size * scale; y++)
        for (int x = 0; x < size * scale; x++)
            for (int c = 0; c < 3; c++) {
                float v = chw[((size_t)c * size + y / scale) * size + x / scale];
                float p = (v + 1.0f) * 127.5f + 0.5f;
                grid->rgb[((size_t)(y0 + y) * grid->w + x0 + x) * 3 + c] = (uint8_t)(p < 0     ? 0
                                                                                     : p > 255 ? 255
                                                                                               : p);
            }
}

// The largest of the label's forms that fits in width pixels.
static void draw_label(Image *grid, int x, int width, const char *full, const char *brief)
{
    for (int scale = 2; scale >= 1; scale--)
        for (int i = 0; i < 2; i++) {
            const char *text = i ? brief : full;
            if (font_text_width(text, scale) <= width) {
                font_draw(grid, x, scale == 2 ? 6 : 9, text, scale, 40, 40, 40);
                return;
            }
        }
}

// Columns of faces: young ones (real, aged, aged back), then old ones (real, rejuvenated,
// rejuvenated back), so a person sees both directions and the cycle at a glance.
int run_save_samples(Run *r, int epoch, Err *err)
{
    const int size = r->cfg.size, k = r->cfg.sample_faces;
    const size_t img_floats = 3 * (size_t)size * size;
    if (k == 0)
        return 0;
    float *faces = malloc(2 * k * img_floats * sizeof(float));
    float *row2 = malloc(img_floats * sizeof(float)), *row3 = malloc(img_floats * sizeof(float));
    Image grid = {0};
    int n_young, n_old, rc = -1;
    const int scale = size < 128 ? 2 : 1, tile = size * scale, gap = 8, label_h = 24;
    if (!faces || !row2 || !row3) {
        err_set(err, "out of memory for the sample grid");
        goto done;
    }
    if (load_faces(&r->young.test, k, size, faces, &n_young, err) ||
        load_faces(&r->old.test, k, size, faces + k * img_floats, &n_old, err))
        goto done;
    int cols = n_young + n_old;
    if (image_alloc(&grid, cols * (tile + gap) + gap + gap, label_h + 3 * (tile + gap) + gap, err))
        goto done;
    memset(grid.rgb, 255, (size_t)grid.w * grid.h * 3);
    draw_label(&grid, gap, n_young * (tile + gap) - gap, "young -> old -> young", "young");
    draw_label(&grid, gap + n_young * (tile + gap) + gap, n_old * (tile + gap) - gap,
               "old -> young -> old", "old");
    for (int i = 0; i < cols; i++) {
        bool young = i < n_young;
        const float *real = faces + (young ? i : k + i - n_young) * img_floats;
        Net *fwd = young ? &r->gan->g_a2b : &r->gan->g_b2a;
        Net *back = young ? &r->gan->g_b2a : &r->gan->g_a2b;
        memcpy(row2, net_forward(fwd, r->eval, real), img_floats * sizeof(float));
        memcpy(row3, net_forward(back, r->eval, row2), img_floats * sizeof(float));
        int x = gap + i * (tile + gap) + (young ? 0 : gap);
        paste(&grid, real, size, x, label_h + gap, scale);
        paste(&grid, row2, size, x, label_h + gap + (tile + gap), scale);
        paste(&grid, row3, size, x, label_h + gap + 2 * (tile + gap), scale);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/samples/epoch_%04d.png", r->dir, epoch + 1);
    rc = image_save(path, &grid, err);
done:
    free(faces);
    free(row2);
    free(row3);
    image_free(&grid);
    return rc;
}

int run_record_row(Run *r, const LossRow *row, Err *err)
{
    write_row(r->csv, row);
    return push_row(r, row, err);
}
