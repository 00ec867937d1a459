// OpenCV cascade classifiers: reading and checking the XML that opencv_traincascade writes
// (libxml2), into the Cascade of cascade_internal.h.
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/cascade_internal.h"

typedef struct {
    const char *path;
    Err *err;
    double *num; // numbers of the element being parsed
    int nnum, cap;
} Loader;

static bool is_elem(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)n->name, name) == 0);
}

static xmlNode *child(const xmlNode *n, const char *name)
{
    for (xmlNode *c = n->children; c; c = c->next)
        if (is_elem(c, name))
            return c;
    return NULL;
}

// The elements of an OpenCV sequence are <_> children.
static int count_items(const xmlNode *n)
{
    int k = 0;
    for (xmlNode *c = n->children; c; c = c->next)
        k += is_elem(c, "_");
    return k;
}

static xmlNode *first_item(const xmlNode *n)
{
    return child(n, "_");
}

static xmlNode *next_item(const xmlNode *n)
{
    for (xmlNode *c = n->next; c; c = c->next)
        if (is_elem(c, "_"))
            return c;
    return NULL;
}

// Parses the whitespace-separated numbers of n's text into L->num / L->nnum.
static int parse_numbers(Loader *L, const xmlNode *n, const char *where)
{
    xmlChar *text = xmlNodeGetContent(n);
    if (!text)
        return err_set(L->err, "%s: out of memory reading %s", L->path, where);
    L->nnum = 0;
    const char *s = (const char *)text;
    int rc = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (!*s)
            break;
        char *end;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v) ||
            (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')) {
            rc = err_set(L->err, "%s: %s: '%.20s' is not a number", L->path, where, s);
            break;
        }
        if (L->nnum == L->cap) {
            int cap = L->cap ? 2 * L->cap : 64;
            double *p = realloc(L->num, (size_t)cap * sizeof *p);
            if (!p) {
                rc = err_set(L->err, "%s: out of memory reading %s", L->path, where);
                break;
            }
            L->num = p;
            L->cap = cap;
        }
        L->num[L->nnum++] = v;
        s = end;
    }
    xmlFree(text);
    return rc;
}

static bool is_int(double v, double lo, double hi)
{
    return v == floor(v) && v >= lo && v <= hi;
}

// The single number of element name under parent (required).
static int read_number(Loader *L, const xmlNode *parent, const char *name, const char *where,
                       double *out)
{
    const xmlNode *n = child(parent, name);
    if (!n)
        return err_set(L->err, "%s: %s: missing <%s>", L->path, where, name);
    if (parse_numbers(L, n, name) < 0)
        return -1;
    if (L->nnum != 1)
        return err_set(L->err, "%s: %s: <%s> holds %d numbers, expected 1", L->path, where, name,
                       L->nnum);
    *out = L->num[0];
    return 0;
}

static int read_int(Loader *L, const xmlNode *parent, const char *name, const char *where, int lo,
                    int hi, int *out)
{
    double v = 0;
    if (read_number(L, parent, name, where, &v) < 0)
        return -1;
    if (!is_int(v, lo, hi))
        return err_set(L->err, "%s: %s: <%s> is %g, expected an integer in [%d, %d]", L->path,
                       where, name, v, lo, hi);
    *out = (int)v;
    return 0;
}

// A text element's content with surrounding blanks removed, into buf.
static int read_word(Loader *L, const xmlNode *parent, const char *name, char *buf, size_t len)
{
    const xmlNode *n = child(parent, name);
    if (!n)
        return err_set(L->err, "%s: missing <%s>", L->path, name);
    xmlChar *text = xmlNodeGetContent(n);
    if (!text)
        return err_set(L->err, "%s: out of memory reading <%s>", L->path, name);
    const char *s = (const char *)text;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t k = 0;
    while (s[k] && s[k] != ' ' && s[k] != '\t' && s[k] != '\n' && s[k] != '\r' && k + 1 < len) {
        buf[k] = s[k];
        k++;
    }
    buf[k] = 0;
    xmlFree(text);
    return 0;
}

static int load_features(Loader *L, Cascade *c, const xmlNode *feats)
{
    c->nfeatures = count_items(feats);
    if (c->nfeatures == 0)
        return err_set(L->err, "%s: <features> is empty", L->path);
    if (c->type == FEAT_HAAR)
        c->haar = calloc((size_t)c->nfeatures, sizeof *c->haar);
    else
        c->lbp = calloc((size_t)c->nfeatures, sizeof *c->lbp);
    if (!c->haar && !c->lbp)
        return err_set(L->err, "%s: out of memory for %d features", L->path, c->nfeatures);
    int i = 0;
    for (const xmlNode *f = first_item(feats); f; f = next_item(f), i++) {
        char where[64];
        snprintf(where, sizeof where, "feature %d", i);
        if (c->type == FEAT_LBP) {
            const xmlNode *r = child(f, "rect");
            if (!r)
                return err_set(L->err, "%s: %s: missing <rect>", L->path, where);
            if (parse_numbers(L, r, where) < 0)
                return -1;
            if (L->nnum != 4)
                return err_set(L->err, "%s: %s: <rect> holds %d numbers, expected 4 (x y w h)",
                               L->path, where, L->nnum);
            for (int k = 0; k < 4; k++)
                if (!is_int(L->num[k], 0, MAX_WINDOW))
                    return err_set(L->err, "%s: %s: <rect> value %g is not a small integer",
                                   L->path, where, L->num[k]);
            LbpFeature *p = &c->lbp[i];
            *p = (LbpFeature){(int)L->num[0], (int)L->num[1], (int)L->num[2], (int)L->num[3]};
            if (p->w < 1 || p->h < 1 || p->x + 3 * p->w > c->win_w || p->y + 3 * p->h > c->win_h)
                return err_set(L->err,
                               "%s: %s: 3x3 blocks of %dx%d at (%d, %d) leave the %dx%d window",
                               L->path, where, p->w, p->h, p->x, p->y, c->win_w, c->win_h);
            continue;
        }
        const xmlNode *t = child(f, "tilted");
        if (t) {
            if (parse_numbers(L, t, where) < 0)
                return -1;
            if (L->nnum != 1)
                return err_set(L->err, "%s: %s: <tilted> should hold one number", L->path, where);
            if (L->num[0] != 0)
                return err_set(L->err, "%s: %s: tilted (45-degree) Haar features are not supported",
                               L->path, where);
        }
        const xmlNode *rects = child(f, "rects");
        if (!rects)
            return err_set(L->err, "%s: %s: missing <rects>", L->path, where);
        HaarFeature *p = &c->haar[i];
        p->nrects = count_items(rects);
        if (p->nrects < 1 || p->nrects > HAAR_MAX_RECTS)
            return err_set(L->err, "%s: %s: <rects> has %d rectangles, expected 1 to %d", L->path,
                           where, p->nrects, HAAR_MAX_RECTS);
        int k = 0;
        for (const xmlNode *r = first_item(rects); r; r = next_item(r), k++) {
            if (parse_numbers(L, r, where) < 0)
                return -1;
            if (L->nnum != 5)
                return err_set(L->err,
                               "%s: %s: rectangle %d holds %d numbers, expected 5 (x y w h "
                               "weight)",
                               L->path, where, k, L->nnum);
            for (int j = 0; j < 4; j++)
                if (!is_int(L->num[j], 0, MAX_WINDOW))
                    return err_set(L->err, "%s: %s: rectangle %d: %g is not a small integer",
                                   L->path, where, k, L->num[j]);
            p->x[k] = (int)L->num[0];
            p->y[k] = (int)L->num[1];
            p->w[k] = (int)L->num[2];
            p->h[k] = (int)L->num[3];
            p->weight[k] = (float)L->num[4];
            if (p->w[k] < 1 || p->h[k] < 1 || p->x[k] + p->w[k] > c->win_w ||
                p->y[k] + p->h[k] > c->win_h)
                return err_set(L->err, "%s: %s: rectangle %d (%d %d %d %d) leaves the %dx%d window",
                               L->path, where, k, p->x[k], p->y[k], p->w[k], p->h[k], c->win_w,
                               c->win_h);
        }
    }
    return 0;
}

// Appends to a growable array; *cap is in elements.
static int grow(void **p, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return 0;
    int n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * size);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

// A child of node k of tree t: a later node of the same tree (> 0), or one of its leaves (<= 0).
// The upper bound matters too: node nnodes is already the next tree's (found by fuzzing).
static bool child_ok(int child, int k, const Tree *t)
{
    return child > 0 ? child > k && child < t->nnodes : -child < t->nleaves;
}

static int load_stages(Loader *L, Cascade *c, const xmlNode *stages, int stage_num)
{
    c->nstages = count_items(stages);
    if (c->nstages == 0)
        return err_set(L->err, "%s: <stages> is empty", L->path);
    if (c->nstages != stage_num)
        return err_set(L->err, "%s: <stageNum> says %d stages but <stages> has %d", L->path,
                       stage_num, c->nstages);
    c->stages = calloc((size_t)c->nstages, sizeof *c->stages);
    if (!c->stages)
        return err_set(L->err, "%s: out of memory", L->path);
    int cap_trees = 0, cap_nodes = 0, cap_leaves = 0;
    const int node_len = c->type == FEAT_LBP ? 3 + LBP_SUBSET_WORDS : 4;
    int si = 0;
    for (const xmlNode *s = first_item(stages); s; s = next_item(s), si++) {
        char where[96];
        snprintf(where, sizeof where, "stage %d", si);
        Stage *st = &c->stages[si];
        double thr = 0;
        if (read_number(L, s, "stageThreshold", where, &thr) < 0)
            return -1;
        // As OpenCV, a hair below the written threshold, so that a stage sum equal to it in
        // the trainer's arithmetic also passes in ours.
        st->threshold = (float)thr - 1e-5f;
        const xmlNode *weak = child(s, "weakClassifiers");
        if (!weak)
            return err_set(L->err, "%s: %s: missing <weakClassifiers>", L->path, where);
        st->first_tree = c->ntrees;
        st->ntrees = count_items(weak);
        if (st->ntrees == 0)
            return err_set(L->err, "%s: %s: <weakClassifiers> is empty", L->path, where);
        if (child(s, "maxWeakCount")) {
            int mwc = 0;
            if (read_int(L, s, "maxWeakCount", where, 0, 1 << 20, &mwc) < 0)
                return -1;
            if (mwc != st->ntrees)
                return err_set(L->err,
                               "%s: %s: <maxWeakCount> says %d weak classifiers but "
                               "<weakClassifiers> has %d",
                               L->path, where, mwc, st->ntrees);
        }
        int wi = 0;
        for (const xmlNode *w = first_item(weak); w; w = next_item(w), wi++) {
            snprintf(where, sizeof where, "stage %d weak classifier %d", si, wi);
            if (grow((void **)&c->trees, &cap_trees, c->ntrees + 1, sizeof *c->trees) < 0)
                return err_set(L->err, "%s: out of memory", L->path);
            Tree *t = &c->trees[c->ntrees++];
            const xmlNode *in = child(w, "internalNodes"), *lv = child(w, "leafValues");
            if (!in || !lv)
                return err_set(L->err, "%s: %s: missing <%s>", L->path, where,
                               in ? "leafValues" : "internalNodes");
            // Leaves first (the node check needs their count).
            if (parse_numbers(L, lv, where) < 0)
                return -1;
            t->first_leaf = c->nleaves;
            t->nleaves = L->nnum;
            if (grow((void **)&c->leaves, &cap_leaves, c->nleaves + L->nnum, sizeof(float)) < 0)
                return err_set(L->err, "%s: out of memory", L->path);
            for (int k = 0; k < L->nnum; k++)
                c->leaves[c->nleaves++] = (float)L->num[k];
            if (parse_numbers(L, in, where) < 0)
                return -1;
            if (L->nnum == 0 || L->nnum % node_len != 0)
                return err_set(L->err,
                               "%s: %s: <internalNodes> holds %d numbers, expected a positive "
                               "multiple of %d (left right feature %s)",
                               L->path, where, L->nnum, node_len,
                               c->type == FEAT_LBP ? "and 8 subset words" : "threshold");
            t->first_node = c->nnodes;
            t->nnodes = L->nnum / node_len;
            if (t->nleaves != t->nnodes + 1)
                return err_set(L->err,
                               "%s: %s: <leafValues> holds %d values, expected %d for %d "
                               "node(s)",
                               L->path, where, t->nleaves, t->nnodes + 1, t->nnodes);
            if (grow((void **)&c->nodes, &cap_nodes, c->nnodes + t->nnodes, sizeof *c->nodes) < 0)
                return err_set(L->err, "%s: out of memory", L->path);
            for (int k = 0; k < t->nnodes; k++) {
                const double *v = L->num + (size_t)k * node_len;
                Node *nd = &c->nodes[c->nnodes++];
                memset(nd, 0, sizeof *nd);
                if (!is_int(v[0], -t->nnodes, t->nnodes) || !is_int(v[1], -t->nnodes, t->nnodes) ||
                    !is_int(v[2], 0, c->nfeatures - 1))
                    return err_set(L->err,
                                   "%s: %s: node %d: left %g, right %g, feature %g out of range "
                                   "(%d nodes, %d leaves, %d features)",
                                   L->path, where, k, v[0], v[1], v[2], t->nnodes, t->nleaves,
                                   c->nfeatures);
                nd->left = (int)v[0];
                nd->right = (int)v[1];
                nd->feature = (int)v[2];
                // A child node must come after its parent: then every walk ends in a leaf.
                if (!child_ok(nd->left, k, t) || !child_ok(nd->right, k, t))
                    return err_set(L->err, "%s: %s: node %d: children %d and %d are invalid",
                                   L->path, where, k, nd->left, nd->right);
                if (c->type == FEAT_LBP) {
                    for (int j = 0; j < LBP_SUBSET_WORDS; j++) {
                        if (!is_int(v[3 + j], -2147483648.0, 4294967295.0))
                            return err_set(L->err,
                                           "%s: %s: node %d: subset word %g is not a "
                                           "32-bit integer",
                                           L->path, where, k, v[3 + j]);
                        nd->subset[j] = (uint32_t)(int64_t)v[3 + j];
                    }
                } else {
                    nd->threshold = (float)v[3];
                }
            }
        }
    }
    return 0;
}

void cascade_free(Cascade *c)
{
    if (!c)
        return;
    free(c->stages);
    free(c->trees);
    free(c->nodes);
    free(c->leaves);
    free(c->haar);
    free(c->lbp);
    free(c);
}

static int load_root(Loader *L, Cascade *c, xmlDoc *doc)
{
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || !is_elem(root, "opencv_storage"))
        return err_set(L->err, "%s: the root element is <%s>, not <opencv_storage>", L->path,
                       root ? (const char *)root->name : "(none)");
    const xmlNode *cas = child(root, NULL);
    if (!cas)
        return err_set(L->err, "%s: <opencv_storage> is empty", L->path);
    xmlChar *type_id = xmlGetProp(cas, (const xmlChar *)"type_id");
    if (type_id) {
        bool ok = strcmp((const char *)type_id, "opencv-cascade-classifier") == 0;
        if (!ok)
            err_set(L->err,
                    "%s: <%s> is of type '%.60s'; only the 'opencv-cascade-classifier' format "
                    "(opencv_traincascade's) is supported",
                    L->path, (const char *)cas->name, (const char *)type_id);
        xmlFree(type_id);
        if (!ok)
            return -1;
    }
    char word[32];
    if (read_word(L, cas, "stageType", word, sizeof word) < 0)
        return -1;
    if (strcmp(word, "BOOST") != 0)
        return err_set(L->err, "%s: stageType '%s' is not supported (only BOOST)", L->path, word);
    if (read_word(L, cas, "featureType", word, sizeof word) < 0)
        return -1;
    if (strcmp(word, "HAAR") == 0)
        c->type = FEAT_HAAR;
    else if (strcmp(word, "LBP") == 0)
        c->type = FEAT_LBP;
    else
        return err_set(L->err, "%s: featureType '%s' is not supported (HAAR or LBP)", L->path,
                       word);
    if (read_int(L, cas, "width", "window", 3, MAX_WINDOW, &c->win_w) < 0 ||
        read_int(L, cas, "height", "window", 3, MAX_WINDOW, &c->win_h) < 0)
        return -1;
    const xmlNode *fp = child(cas, "featureParams");
    int cats = 0;
    if (fp && child(fp, "maxCatCount") &&
        read_int(L, fp, "maxCatCount", "featureParams", 0, 1 << 20, &cats) < 0)
        return -1;
    if (c->type == FEAT_LBP && cats != 256)
        return err_set(L->err, "%s: an LBP cascade needs <maxCatCount> 256, this one has %d",
                       L->path, cats);
    if (c->type == FEAT_HAAR && cats != 0)
        return err_set(L->err, "%s: a HAAR cascade needs <maxCatCount> 0, this one has %d", L->path,
                       cats);
    int stage_num = 0;
    if (read_int(L, cas, "stageNum", "cascade", 1, 1 << 20, &stage_num) < 0)
        return -1;
    const xmlNode *feats = child(cas, "features");
    if (!feats)
        return err_set(L->err, "%s: missing <features>", L->path);
    if (load_features(L, c, feats) < 0)
        return -1;
    const xmlNode *stages = child(cas, "stages");
    if (!stages)
        return err_set(L->err, "%s: missing <stages>", L->path);
    return load_stages(L, c, stages, stage_num);
}

#define MAX_FILE (256 << 20)

// The whole file, NUL-terminated, or NULL with a reason.
static char *read_all(const char *path, size_t *len, Err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 1 << 20;
            char *p = ncap <= MAX_FILE ? realloc(buf, ncap + 1) : NULL;
            if (!p) {
                err_set(err, "%s: %s", path,
                        ncap > MAX_FILE ? "larger than 256 MiB, not a cascade" : "out of memory");
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        err_set(err, "%s: read error: %s", path, strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static bool starts(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

// True when the prolog (what comes before the root element) holds a document type declaration
// or any other `<!` declaration. libxml2 expands the entities such a declaration defines while
// it parses, before a check on the parsed tree could refuse them: 1.2 KB of nested entities
// cost 10 s. An OpenCV cascade's prolog is an XML declaration, comments and white space only.
static bool prolog_declares(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    if (starts(p, end, "\xEF\xBB\xBF")) // UTF-8 byte order mark
        p += 3;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        const char *close;
        if (starts(p, end, "<?"))
            close = "?>";
        else if (starts(p, end, "<!--"))
            close = "-->";
        else
            return starts(p, end, "<!");
        const char *q = memmem(p + 2, (size_t)(end - p - 2), close, strlen(close));
        if (!q)
            return false; // unterminated: libxml2 says so
        p = q + strlen(close);
    }
}

Cascade *cascade_load(const char *path, Err *err)
{
    if (!path) {
        err_set(err, "cascade_load: no file name");
        return NULL;
    }
    Cascade *c = calloc(1, sizeof *c);
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!c || !ctxt) {
        err_set(err, "%s: out of memory", path);
        free(c);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    Loader L = {.path = path, .err = err};
    int rc;
    size_t len;
    char *text = read_all(path, &len, err);
    if (!text) {
        free(c);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    if (prolog_declares(text, len)) {
        // opencv_traincascade never writes one.
        err_set(err,
                "%s: has a document type declaration (<!DOCTYPE ...>), which no OpenCV "
                "cascade has",
                path);
        free(text);
        free(c);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    // From memory (libxml2's own file errors would go to stderr); no network, no messages: the
    // reason goes to err. Read as UTF-8 whatever the file declares, so the bytes scanned above
    // are the characters parsed. libxml2's default limits stay on (no XML_PARSE_HUGE): the
    // largest cascade opencv-data ships, 2.6 MB, is well inside them.
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, text, (int)len, path, "UTF-8",
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_IGNORE_ENC);
    free(text);
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        if (e)
            rc = err_set(err, "%s: not valid XML (line %d): %s", path, e->line,
                         e->message ? e->message : "?");
        else
            rc = err_set(err, "%s: cannot be parsed as XML", path);
        // libxml2's messages end with a newline.
        if (err) {
            size_t n = strlen(err->msg);
            while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
                err->msg[--n] = 0;
        }
    } else if (doc->intSubset || doc->extSubset) {
        // Cannot happen after the scan above; kept so that no declared entity ever reaches
        // xmlNodeGetContent, which expands it on every read.
        rc = err_set(err,
                     "%s: has a document type declaration (<!DOCTYPE ...>), which no OpenCV "
                     "cascade has",
                     path);
    } else {
        rc = load_root(&L, c, doc);
    }
    free(L.num);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    if (rc < 0) {
        cascade_free(c);
        return NULL;
    }
    return c;
}

int cascade_window_size(const Cascade *c, int *w, int *h)
{
    if (!c)
        return -1;
    if (w)
        *w = c->win_w;
    if (h)
        *h = c->win_h;
    return 0;
}
