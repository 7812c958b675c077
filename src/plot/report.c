/* The self-contained HTML report: see report.h. */
#include "plot/report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The page being built; `failed` is set (and kept) when memory runs out. */
typedef struct page {
    ld_bytes *out;
    int failed;
} page;

static void put_n(page *p, const char *s, size_t n)
{
    if (!p->failed && ld_bytes_append(p->out, s, n) != 0)
        p->failed = 1;
}

static void put(page *p, const char *s) { put_n(p, s, strlen(s)); }

static void putf(page *p, const char *fmt, ...) LD_PRINTF(2, 3);
static void putf(page *p, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put_n(p, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Text with & < > " ' replaced by entities (safe in elements and quoted
 * attributes). */
static void put_escaped(page *p, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': put(p, "&amp;"); break;
        case '<': put(p, "&lt;"); break;
        case '>': put(p, "&gt;"); break;
        case '"': put(p, "&quot;"); break;
        case '\'': put(p, "&#39;"); break;
        default: put_n(p, s, 1);
        }
    }
}

static void put_base64(page *p, const unsigned char *data, size_t n)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char quad[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < n)
            v |= data[i + 2];
        quad[0] = digits[v >> 18 & 63];
        quad[1] = digits[v >> 12 & 63];
        quad[2] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        quad[3] = i + 2 < n ? digits[v & 63] : '=';
        put_n(p, quad, 4);
    }
}

/* <img> with the PNG inline; hidden images start with display:none. */
static void put_image(page *p, const ld_bytes *png, const char *cls, const char *alt, int hidden)
{
    putf(p, "<img class=\"%s\"%s alt=\"", cls, hidden ? " style=\"display:none\"" : "");
    put_escaped(p, alt);
    put(p, "\" src=\"data:image/png;base64,");
    put_base64(p, png->data, png->len);
    put(p, "\">\n");
}

static void put_figure(page *p, const ld_bytes *png, const char *cls, const char *caption)
{
    put(p, "<figure>");
    put_image(p, png, cls, caption, 0);
    put(p, "<figcaption>");
    put_escaped(p, caption);
    put(p, "</figcaption></figure>\n");
}

static const char page_style[] =
    "<style>\n"
    "body{font-family:sans-serif;margin:1.5em;color:#222}\n"
    "figure{display:inline-block;margin:0 1.5em 1em 0;vertical-align:top}\n"
    "figcaption{font-size:90%;color:#555}\n"
    ".pic{width:384px;image-rendering:pixelated}\n"
    ".plot{max-width:100%}\n"
    "table{border-collapse:collapse}\n"
    "td,th{border:1px solid #ccc;padding:2px 10px;text-align:left}\n"
    "td{font-family:monospace}\n"
    "#controls{margin:0.5em 0 1em 0}#slider{width:24em;vertical-align:middle}\n"
    "</style>\n";

/* The slider shows frame n and the field of stage min(n, N - 1). */
static const char page_script[] =
    "<script>\n"
    "(function(){\n"
    "var slider=document.getElementById('slider'),play=document.getElementById('play'),\n"
    "label=document.getElementById('time'),frames=document.getElementsByClassName('frame'),\n"
    "quivers=document.getElementsByClassName('quiver'),last=frames.length-1,timer=null;\n"
    "function show(n){\n"
    " var s=Math.min(n,quivers.length-1),i;\n"
    " for(i=0;i<frames.length;i++)frames[i].style.display=i==n?'':'none';\n"
    " for(i=0;i<quivers.length;i++)quivers[i].style.display=i==s?'':'none';\n"
    " label.textContent='frame '+n+' of '+last+', t = '+n+'/'+last+' = '+(n/last).toFixed(3)+\n"
    "  (quivers.length?'; field of stage '+s+' (t = '+s+'/'+last+' to '+(s+1)+'/'+last+')':'');\n"
    "}\n"
    "slider.addEventListener('input',function(){show(+slider.value);});\n"
    "play.addEventListener('click',function(){\n"
    " if(timer){clearInterval(timer);timer=null;play.textContent='play';return;}\n"
    " play.textContent='pause';\n"
    " timer=setInterval(function(){slider.value=(+slider.value+1)%(last+1);show(+slider.value);},"
    "400);\n"
    "});\n"
    "show(0);\n"
    "})();\n"
    "</script>\n";

static void put_frames_and_fields(page *p, const ld_report *r)
{
    int n_frames = r->stages + 1;
    put(p, "<h2>In-between frames and motion fields</h2>\n<div id=\"controls\">");
    putf(p, "<input type=\"range\" id=\"slider\" min=\"0\" max=\"%d\" step=\"1\" value=\"0\"> ",
         r->stages);
    putf(p, "<button type=\"button\" id=\"play\">play</button> <span id=\"time\">frame 0 of %d, "
            "t = 0</span></div>\n",
         r->stages);
    put(p, "<figure>\n");
    for (int n = 0; n < n_frames; n++) {
        char alt[96];
        snprintf(alt, sizeof alt, "frame %d, t = %d/%d", n, n, r->stages);
        put_image(p, &r->frames[n], "pic frame", alt, n > 0);
    }
    put(p, "<figcaption>frame n: the estimated image at t = n/N</figcaption></figure>\n");
    if (r->quivers) {
        put(p, "<figure>\n");
        for (int n = 0; n < r->stages; n++) {
            char alt[128];
            snprintf(alt, sizeof alt, "velocity of stage %d, t = %d/%d to %d/%d", n, n, r->stages,
                     n + 1, r->stages);
            put_image(p, &r->quivers[n], "plot quiver", alt, n > 0);
        }
        put(p, "<figcaption>velocity of the stage that starts at the frame shown (the last "
               "frame shows the last stage)</figcaption></figure>\n");
        if (r->fields_check) {
            put(p, "<p id=\"field-check\">");
            put_escaped(p, r->fields_check);
            put(p, "</p>\n");
        }
    } else {
        put(p, "<p>");
        put_escaped(p, r->fields_note ? r->fields_note
                                      : "This method gives no motion fields: no quiver or "
                                        "streamline plots.");
        put(p, "</p>\n");
    }
}

static void put_settings(page *p, const ld_report *r)
{
    put(p, "<h2>Settings</h2>\n<table>\n<tr><th>setting</th><th>value</th></tr>\n");
    for (int i = 0; i < r->n_settings; i++) {
        put(p, "<tr><th>");
        put_escaped(p, r->setting_keys[i] ? r->setting_keys[i] : "");
        put(p, "</th><td>");
        put_escaped(p, r->setting_values[i] ? r->setting_values[i] : "");
        put(p, "</td></tr>\n");
    }
    put(p, "</table>\n");
}

int ld_report_html(const ld_report *r, ld_bytes *html, ld_err *err)
{
    if (r->stages < 1 || !r->frames || !r->inputs[0] || !r->inputs[1])
        return ld_errf(err, "report: needs both inputs and N + 1 frames (N = %d)", r->stages);
    if (r->n_settings > 0 && (!r->setting_keys || !r->setting_values))
        return ld_errf(err, "report: %d settings without keys or values", r->n_settings);
    const char *title = r->title ? r->title : "latdyn between";
    page p = {html, 0};
    put(&p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    put_escaped(&p, title);
    put(&p, "</title>\n");
    put(&p, page_style);
    put(&p, "</head>\n<body>\n<h1>");
    put_escaped(&p, title);
    put(&p, "</h1>\n");
    if (r->caption) {
        put(&p, "<p>");
        put_escaped(&p, r->caption);
        put(&p, "</p>\n");
    }
    put(&p, "<h2>Inputs</h2>\n");
    put_figure(&p, r->inputs[0], "pic input", "I0 (t = 0)");
    put_figure(&p, r->inputs[1], "pic input", "I1 (t = 1)");
    put_frames_and_fields(&p, r);
    if (r->streamlines) {
        put(&p, "<h2>Streamlines</h2>\n");
        put_figure(&p, r->streamlines, "plot",
                   "streamlines of the velocity averaged over the stages");
    }
    put(&p, "<h2>Training loss</h2>\n");
    if (r->loss)
        put_figure(&p, r->loss, "plot", "loss over the training steps");
    else {
        put(&p, "<p>");
        put_escaped(&p, r->loss_note ? r->loss_note
                                     : "Nothing was trained for this method: no loss curve.");
        put(&p, "</p>\n");
    }
    put_settings(&p, r);
    put(&p, page_script);
    put(&p, "</body>\n</html>\n");
    if (p.failed)
        return ld_errf(err, "report: out of memory");
    return 0;
}

int ld_report_write(const char *path, const ld_report *r, ld_err *err)
{
    ld_bytes html = {0};
    int rc = ld_report_html(r, &html, err);
    if (rc == 0)
        rc = ld_bytes_write_file(path, &html, err);
    ld_bytes_free(&html);
    return rc;
}
