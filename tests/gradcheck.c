#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"

void fill_random(float *buf, size_t n, unsigned seed, float gap)
{
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        float v = rng_range(&r, -1.0f, 1.0f);
        if (fabsf(v) < gap)
            v = v < 0 ? v - gap : v + gap;
        buf[i] = v;
    }
}

static double weighted_sum(const float *r, const float *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)r[i] * y[i];
    return s;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

double gradcheck(GradCase *c, float h, double atol, double rtol, size_t max_points, size_t outliers,
                 unsigned seed)
{
    float *r = malloc(c->out_len * sizeof *r), *y = malloc(c->out_len * sizeof *y);
    float *grad[GRADCHECK_MAX_INPUTS];
    fill_random(r, c->out_len, seed, 0.0f);
    for (int i = 0; i < c->n_inputs; i++)
        grad[i] = calloc(c->input_len[i], sizeof(float));
    c->backward(c, r, grad);

    double worst = 0.0;
    for (int i = 0; i < c->n_inputs; i++) {
        size_t len = c->input_len[i];
        size_t step = (max_points && len > max_points) ? len / max_points : 1;
        double *num = calloc(len, sizeof *num), max_num = 0.0;
        for (size_t j = 0; j < len; j += step) {
            float saved = c->input[i][j];
            c->input[i][j] = saved + h;
            c->forward(c, y);
            double lp = weighted_sum(r, y, c->out_len);
            c->input[i][j] = saved - h;
            c->forward(c, y);
            double lm = weighted_sum(r, y, c->out_len);
            c->input[i][j] = saved;
            num[j] = (lp - lm) / (2.0 * h);
            if (fabs(num[j]) > max_num)
                max_num = fabs(num[j]);
        }
        double tol = atol + rtol * max_num, worst_i = 0.0;
        double *errs = calloc(len, sizeof *errs);
        size_t worst_j = 0, n_checked = 0;
        for (size_t j = 0; j < len; j += step) {
            double e = fabs(grad[i][j] - num[j]) / tol;
            errs[n_checked++] = e;
            if (e > worst_i)
                worst_i = e, worst_j = j;
        }
        qsort(errs, n_checked, sizeof *errs, cmp_desc);
        worst_i = outliers < n_checked ? errs[outliers] : 0.0;
        free(errs);
        if (worst_i > 1.0)
            fprintf(stderr, "gradcheck: %s[%zu]: analytic %.6g, numeric %.6g (tolerance %.3g)\n",
                    c->input_name[i], worst_j, grad[i][worst_j], num[worst_j], tol);
        if (worst_i > worst)
            worst = worst_i;
        free(num);
    }
    for (int i = 0; i < c->n_inputs; i++)
        free(grad[i]);
    free(r);
    free(y);
    return worst;
}
