// Plots of `conal compare`: mean success over env steps per method, with a
// +-1 std band over seeds and the method's name at the end of its line.
//
// SVG is written as text. PNG is rasterised here (lines, bands, a built-in
// 5x7 bitmap font) and encoded with libpng, so no graphics library is needed.
// Both formats share one layout, computed in plot_layout.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CONAL_HAVE_PNG
#include <png.h>
#endif

#include "cli/compare.h"
#include "common/error.h"

// ---- layout shared by both formats ----

enum { PLOT_W = 900, PLOT_H = 540, LEFT = 70, RIGHT = 215, TOP = 44, BOTTOM = 60 };
enum { LABEL_GAP = 16 };   // minimum vertical distance between end labels, pixels

// Colours of the first methods (Tableau 10), reused cyclically.
static const uint8_t palette[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

typedef struct PlotLayout {
    double x_max;                          // largest step on the x axis
    int n_xticks;
    double xticks[8];
    double label_y[COMPARE_MAX_GROUPS];    // pixel y of each method's end label
} PlotLayout;

static double px_x(const PlotLayout *L, double step) {
    return LEFT + (PLOT_W - LEFT - RIGHT) * (L->x_max > 0 ? step / L->x_max : 0.0);
}

static double px_y(double success) {
    double s = success < 0.0 ? 0.0 : (success > 1.0 ? 1.0 : success);
    return TOP + (PLOT_H - TOP - BOTTOM) * (1.0 - s);
}

// Formats a step count as 0, 250k, 1M, 1.5M.
static void format_steps(double v, char *out, size_t out_sz) {
    if (v >= 1e6) {
        snprintf(out, out_sz, "%gM", v / 1e6);
    } else if (v >= 1e3) {
        snprintf(out, out_sz, "%gk", v / 1e3);
    } else {
        snprintf(out, out_sz, "%g", v);
    }
}

// Axis range, x ticks at a 1-2-5 spacing, and end-label positions pushed
// apart so no two labels overlap.
static void plot_layout(const CompareSet *set, PlotLayout *L) {
    memset(L, 0, sizeof *L);
    for (int g = 0; g < set->n_groups; g++) {
        const CompareGroup *grp = &set->groups[g];
        if (grp->n_steps > 0) {
            L->x_max = fmax(L->x_max, (double)grp->steps[grp->n_steps - 1]);
        }
    }
    if (L->x_max <= 0) {
        L->x_max = 1;
    }
    double raw = L->x_max / 5.0, mag = pow(10.0, floor(log10(raw)));
    double spacing = raw / mag < 2 ? 2 * mag : (raw / mag < 5 ? 5 * mag : 10 * mag);
    spacing = raw / mag < 1.5 ? mag : spacing;
    for (double x = 0; x <= L->x_max * 1.0001 && L->n_xticks < 8; x += spacing) {
        L->xticks[L->n_xticks++] = x;
    }

    // labels start at their line's last point, then move down as needed
    int order[COMPARE_MAX_GROUPS];
    for (int g = 0; g < set->n_groups; g++) {
        const CompareGroup *grp = &set->groups[g];
        L->label_y[g] = grp->n_steps ? px_y(grp->curve_mean[grp->n_steps - 1]) : TOP;
        order[g] = g;
    }
    for (int a = 1; a < set->n_groups; a++) {
        for (int b = a; b > 0 && L->label_y[order[b]] < L->label_y[order[b - 1]]; b--) {
            int tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
        }
    }
    for (int k = 1; k < set->n_groups; k++) {
        double min_y = L->label_y[order[k - 1]] + LABEL_GAP;
        L->label_y[order[k]] = fmax(L->label_y[order[k]], min_y);
    }
}

// ---- SVG ----

int compare_plot_svg(const CompareSet *set, const char *path, char *err, size_t err_sz) {
    FILE *f = fopen(path, "w");
    if (!f) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot open for writing", path);
    }
    PlotLayout L;
    plot_layout(set, &L);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"13\">\n", PLOT_W, PLOT_H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\">mean success over env steps "
               "(mean over seeds, band: +-1 std)</text>\n", LEFT);

    // grid and axes
    for (int i = 0; i <= 5; i++) {
        double y = px_y(i / 5.0);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                LEFT, y, PLOT_W - RIGHT, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", LEFT - 6,
                y + 4, i / 5.0);
    }
    for (int i = 0; i < L.n_xticks; i++) {
        char tick[24];
        format_steps(L.xticks[i], tick, sizeof tick);
        double x = px_x(&L, L.xticks[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x,
                TOP, x, PLOT_H - BOTTOM);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x,
                PLOT_H - BOTTOM + 18, tick);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">env steps per task</text>\n",
            (LEFT + PLOT_W - RIGHT) / 2, PLOT_H - 16);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
               "stroke=\"#444\"/>\n", LEFT, TOP, PLOT_W - LEFT - RIGHT, PLOT_H - TOP - BOTTOM);

    for (int g = 0; g < set->n_groups; g++) {
        const CompareGroup *grp = &set->groups[g];
        const uint8_t *c = palette[g % 10];

        // band: upper edge forward, lower edge back (absent with one seed)
        if (grp->n_runs > 1) {
            fprintf(f, "<polygon fill=\"rgb(%d,%d,%d)\" fill-opacity=\"0.18\" points=\"", c[0],
                    c[1], c[2]);
            for (int i = 0; i < grp->n_steps; i++) {
                fprintf(f, "%.1f,%.1f ", px_x(&L, (double)grp->steps[i]),
                        px_y(grp->curve_mean[i] + grp->curve_std[i]));
            }
            for (int i = grp->n_steps - 1; i >= 0; i--) {
                fprintf(f, "%.1f,%.1f ", px_x(&L, (double)grp->steps[i]),
                        px_y(grp->curve_mean[i] - grp->curve_std[i]));
            }
            fprintf(f, "\"/>\n");
        }
        fprintf(f, "<polyline fill=\"none\" stroke=\"rgb(%d,%d,%d)\" stroke-width=\"2\" "
                   "points=\"", c[0], c[1], c[2]);
        for (int i = 0; i < grp->n_steps; i++) {
            fprintf(f, "%.1f,%.1f ", px_x(&L, (double)grp->steps[i]),
                    px_y(grp->curve_mean[i]));
        }
        fprintf(f, "\"/>\n");
        double x_end = px_x(&L, (double)grp->steps[grp->n_steps - 1]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"rgb(%d,%d,%d)\">%s (%d seed%s)</text>\n",
                fmax(x_end, PLOT_W - RIGHT) + 6, L.label_y[g] + 4, c[0], c[1], c[2],
                grp->method, grp->n_runs, grp->n_runs == 1 ? "" : "s");
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        return err_set(err, err_sz, ERR_IO, "%s: write failed", path);
    }
    return 0;
}

// ---- PNG ----

#ifdef CONAL_HAVE_PNG

// 5x7 glyphs, one byte per row with the leftmost pixel in bit 4. Upper-case
// letters are drawn as lower case; characters not listed draw as '?'.
static const char glyph_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz.-+_:/()%,* ?";
static const uint8_t glyphs[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}, {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E},
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}, {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F},
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}, {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08},
    {0x00, 0x00, 0x0F, 0x11, 0x0F, 0x01, 0x0E}, {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11},
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}, {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C},
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}, {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}, {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11},
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}, {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10},
    {0x00, 0x00, 0x0F, 0x11, 0x0F, 0x01, 0x01}, {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10},
    {0x00, 0x00, 0x0F, 0x10, 0x0E, 0x01, 0x1E}, {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06},
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}, {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04},
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}, {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11},
    {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E}, {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}, {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}, {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F},
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}, {0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10},
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00}, {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},
};

// An RGB image being drawn.
typedef struct Canvas {
    int w, h;
    uint8_t *rgb;   // (h x w x 3)
} Canvas;

// Blends colour c into pixel (x, y) with opacity alpha in [0, 1].
static void blend(Canvas *cv, int x, int y, const uint8_t *c, double alpha) {
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h) {
        return;
    }
    uint8_t *p = cv->rgb + ((size_t)y * cv->w + x) * 3;
    for (int k = 0; k < 3; k++) {
        p[k] = (uint8_t)lround(p[k] * (1.0 - alpha) + c[k] * alpha);
    }
}

// Draws a line of the given width by stamping squares along it.
static void draw_line(Canvas *cv, double x0, double y0, double x1, double y1, int width,
                      const uint8_t *c) {
    int n = (int)ceil(fmax(fabs(x1 - x0), fabs(y1 - y0))) + 1;
    for (int i = 0; i <= n; i++) {
        double x = x0 + (x1 - x0) * i / n, y = y0 + (y1 - y0) * i / n;
        for (int dy = 0; dy < width; dy++) {
            for (int dx = 0; dx < width; dx++) {
                blend(cv, (int)lround(x) + dx - width / 2, (int)lround(y) + dy - width / 2, c,
                      1.0);
            }
        }
    }
}

// Draws text with its top-left corner at (x, y), each font pixel scale^2.
static void draw_text(Canvas *cv, int x, int y, const char *s, int scale, const uint8_t *c) {
    for (; *s; s++, x += 6 * scale) {
        char ch = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        const char *pos = strchr(glyph_chars, ch);
        int gi = pos && ch ? (int)(pos - glyph_chars) : (int)strlen(glyph_chars) - 1;
        for (int row = 0; row < 7; row++) {
            for (int col = 0; col < 5; col++) {
                if (!(glyphs[gi][row] & (0x10 >> col))) {
                    continue;
                }
                for (int k = 0; k < scale * scale; k++) {
                    blend(cv, x + col * scale + k % scale, y + row * scale + k / scale, c, 1.0);
                }
            }
        }
    }
}

// Fills the band between mean - std and mean + std, column by column.
static void fill_band(Canvas *cv, const PlotLayout *L, const CompareGroup *grp,
                      const uint8_t *c) {
    for (int i = 0; i + 1 < grp->n_steps; i++) {
        double xa = px_x(L, (double)grp->steps[i]), xb = px_x(L, (double)grp->steps[i + 1]);
        for (int x = (int)ceil(xa); x <= (int)floor(xb); x++) {
            double u = xb > xa ? (x - xa) / (xb - xa) : 0.0;
            double m = grp->curve_mean[i] + u * (grp->curve_mean[i + 1] - grp->curve_mean[i]);
            double s = grp->curve_std[i] + u * (grp->curve_std[i + 1] - grp->curve_std[i]);
            int y_top = (int)lround(px_y(m + s)), y_bot = (int)lround(px_y(m - s));
            for (int y = y_top; y <= y_bot; y++) {
                blend(cv, x, y, c, 0.18);
            }
        }
    }
}

// Writes the canvas as an 8-bit RGB PNG.
static int write_png(const Canvas *cv, const char *path, char *err, size_t err_sz) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return err_set(err, err_sz, ERR_IO, "%s: cannot open for writing", path);
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return err_set(err, err_sz, ERR_IO, "%s: PNG encoding failed", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)cv->w, (png_uint_32)cv->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < cv->h; y++) {
        png_write_row(png, cv->rgb + (size_t)y * cv->w * 3);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        return err_set(err, err_sz, ERR_IO, "%s: write failed", path);
    }
    return 0;
}

// Draws the grid, axes, tick labels and title.
static void draw_frame(Canvas *cv, const PlotLayout *L) {
    static const uint8_t grid[3] = {221, 221, 221}, ink[3] = {40, 40, 40};
    char text[64];
    for (int i = 0; i <= 5; i++) {
        double y = px_y(i / 5.0);
        draw_line(cv, LEFT, y, PLOT_W - RIGHT, y, 1, grid);
        snprintf(text, sizeof text, "%.1f", i / 5.0);
        draw_text(cv, LEFT - 8 - 6 * 2 * (int)strlen(text), (int)y - 7, text, 2, ink);
    }
    for (int i = 0; i < L->n_xticks; i++) {
        double x = px_x(L, L->xticks[i]);
        draw_line(cv, x, TOP, x, PLOT_H - BOTTOM, 1, grid);
        format_steps(L->xticks[i], text, sizeof text);
        draw_text(cv, (int)x - 6 * (int)strlen(text), PLOT_H - BOTTOM + 8, text, 2, ink);
    }
    draw_line(cv, LEFT, TOP, PLOT_W - RIGHT, TOP, 1, ink);
    draw_line(cv, LEFT, PLOT_H - BOTTOM, PLOT_W - RIGHT, PLOT_H - BOTTOM, 1, ink);
    draw_line(cv, LEFT, TOP, LEFT, PLOT_H - BOTTOM, 1, ink);
    draw_line(cv, PLOT_W - RIGHT, TOP, PLOT_W - RIGHT, PLOT_H - BOTTOM, 1, ink);
    draw_text(cv, LEFT, 12, "mean success over env steps (band: +-1 std over seeds)", 2, ink);
    draw_text(cv, (LEFT + PLOT_W - RIGHT) / 2 - 6 * 18, PLOT_H - 24, "env steps per task", 2,
              ink);
}

int compare_plot_png(const CompareSet *set, const char *path, char *err, size_t err_sz) {
    Canvas cv = {PLOT_W, PLOT_H, malloc((size_t)PLOT_W * PLOT_H * 3)};
    if (!cv.rgb) {
        return err_set(err, err_sz, ERR_NOMEM, "%s: out of memory for the image", path);
    }
    memset(cv.rgb, 255, (size_t)PLOT_W * PLOT_H * 3);
    PlotLayout L;
    plot_layout(set, &L);
    draw_frame(&cv, &L);

    for (int g = 0; g < set->n_groups; g++) {
        const CompareGroup *grp = &set->groups[g];
        const uint8_t *c = palette[g % 10];
        if (grp->n_runs > 1) {
            fill_band(&cv, &L, grp, c);
        }
        for (int i = 0; i + 1 < grp->n_steps; i++) {
            draw_line(&cv, px_x(&L, (double)grp->steps[i]), px_y(grp->curve_mean[i]),
                      px_x(&L, (double)grp->steps[i + 1]), px_y(grp->curve_mean[i + 1]), 2, c);
        }
        char label[COMPARE_NAME_LEN + 16];
        snprintf(label, sizeof label, "%s (%d)", grp->method, grp->n_runs);
        double x_end = px_x(&L, (double)grp->steps[grp->n_steps - 1]);
        draw_text(&cv, (int)fmax(x_end, PLOT_W - RIGHT) + 6, (int)L.label_y[g] - 7, label, 2,
                  c);
    }
    int rc = write_png(&cv, path, err, err_sz);
    free(cv.rgb);
    return rc;
}

#else

int compare_plot_png(const CompareSet *set, const char *path, char *err, size_t err_sz) {
    (void)set;
    return err_set(err, err_sz, ERR_ARG,
                   "%s: this binary was built without libpng; write an .svg plot instead",
                   path);
}

#endif
