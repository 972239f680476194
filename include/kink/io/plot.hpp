#pragma once
/// \file
/// Training curves a user keeps: a CSV file and a self-contained SVG plot (no scripts, no
/// external fonts or styles), one row / one point per epoch. Both are written atomically
/// (io/atomic.hpp), like checkpoints.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <kink/io/atomic.hpp>
#include <kink/io/idx.hpp>

namespace kink::io {

/// One epoch of a training run.
struct epoch_record {
    int epoch = 0;
    double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0, seconds = 0;
};

namespace detail {
inline void write_atomic(const std::string &path, const std::string &text) { write_file_atomic(path, {bytes_of(text)}); }
inline std::string fmt_num(double v, int prec = 4) {
    char b[48];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}
} // namespace detail

inline constexpr const char *csv_header = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds";

/// `epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds`, one line per epoch.
inline std::string csv_text(const std::vector<epoch_record> &rows) {
    std::string s = std::string(csv_header) + "\n";
    for (const auto &r : rows)
        s += std::to_string(r.epoch) + "," + detail::fmt_num(r.train_loss, 6) + "," + detail::fmt_num(r.train_accuracy, 6) +
             "," + detail::fmt_num(r.test_loss, 6) + "," + detail::fmt_num(r.test_accuracy, 6) + "," +
             detail::fmt_num(r.seconds, 3) + "\n";
    return s;
}
inline void write_csv(const std::string &path, const std::vector<epoch_record> &rows) { detail::write_atomic(path, csv_text(rows)); }

/// Reads what csv_text wrote (`where` names the source in errors).
inline std::vector<epoch_record> parse_csv(const std::string &text, const std::string &where) {
    std::vector<epoch_record> rows;
    std::size_t pos = text.find('\n');
    if (text.substr(0, pos) != csv_header) throw format_error("kink: " + where + ": training curves lack the CSV header");
    while (pos != std::string::npos && pos + 1 < text.size()) {
        const std::size_t end = text.find('\n', pos + 1);
        const std::string line = text.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
        epoch_record r;
        if (std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf,%lf", &r.epoch, &r.train_loss, &r.train_accuracy, &r.test_loss,
                        &r.test_accuracy, &r.seconds) != 6)
            throw format_error("kink: " + where + ": malformed training-curve line '" + line + "'");
        rows.push_back(r);
        pos = end;
    }
    return rows;
}

/// Two panels side by side: loss (train and test) and accuracy (train and test) per epoch,
/// with axes, ticks, labels and a legend.
inline std::string training_svg(const std::vector<epoch_record> &rows, const std::string &title) {
    const double W = 900, H = 380, pw = 360, ph = 250, top = 60;
    const double left[2] = {70, 520};
    std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"380\" viewBox=\"0 0 900 380\" "
                    "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"" +
                    detail::fmt_num(W, 0) + "\" height=\"" + detail::fmt_num(H, 0) + "\" fill=\"white\"/>\n";
    std::string esc;
    for (char c : title) esc += c == '<' ? std::string("&lt;") : c == '&' ? std::string("&amp;") : std::string(1, c);
    s += "<text x=\"450\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" + esc + "</text>\n";
    const int n = int(rows.size());
    for (int panel = 0; panel < 2; ++panel) {
        std::vector<double> a, b;
        for (const auto &r : rows) {
            a.push_back(panel == 0 ? r.train_loss : r.train_accuracy);
            b.push_back(panel == 0 ? r.test_loss : r.test_accuracy);
        }
        double lo = 1e300, hi = -1e300;
        for (double v : a) lo = std::min(lo, v), hi = std::max(hi, v);
        for (double v : b) lo = std::min(lo, v), hi = std::max(hi, v);
        if (n == 0 || !(hi >= lo)) lo = 0, hi = 1;
        if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
        const double pad = (hi - lo) * 0.05;
        lo -= pad, hi += pad;
        const double x0 = left[panel], y0 = top;
        auto X = [&](int i) { return x0 + (n <= 1 ? pw / 2 : pw * (i) / double(n - 1)); };
        auto Y = [&](double v) { return y0 + ph * (1 - (v - lo) / (hi - lo)); };
        s += "<rect x=\"" + detail::fmt_num(x0, 1) + "\" y=\"" + detail::fmt_num(y0, 1) + "\" width=\"" + detail::fmt_num(pw, 1) +
             "\" height=\"" + detail::fmt_num(ph, 1) + "\" fill=\"none\" stroke=\"#333\"/>\n";
        for (int t = 0; t <= 4; ++t) {
            const double v = lo + (hi - lo) * t / 4, y = Y(v);
            s += "<line x1=\"" + detail::fmt_num(x0 - 4, 1) + "\" x2=\"" + detail::fmt_num(x0 + pw, 1) + "\" y1=\"" +
                 detail::fmt_num(y, 1) + "\" y2=\"" + detail::fmt_num(y, 1) + "\" stroke=\"#ddd\"/>\n";
            s += "<text x=\"" + detail::fmt_num(x0 - 6, 1) + "\" y=\"" + detail::fmt_num(y + 4, 1) +
                 "\" text-anchor=\"end\">" + detail::fmt_num(v, panel == 0 ? 3 : 3) + "</text>\n";
        }
        for (int i = 0; i < n; ++i)
            s += "<text x=\"" + detail::fmt_num(X(i), 1) + "\" y=\"" + detail::fmt_num(y0 + ph + 16, 1) +
                 "\" text-anchor=\"middle\">" + std::to_string(rows[std::size_t(i)].epoch) + "</text>\n";
        s += "<text x=\"" + detail::fmt_num(x0 + pw / 2, 1) + "\" y=\"" + detail::fmt_num(y0 + ph + 34, 1) +
             "\" text-anchor=\"middle\">epoch</text>\n";
        s += "<text x=\"" + detail::fmt_num(x0 + pw / 2, 1) + "\" y=\"" + detail::fmt_num(y0 - 10, 1) +
             "\" text-anchor=\"middle\" font-size=\"13\">" + (panel == 0 ? "loss" : "accuracy") + "</text>\n";
        const char *colors[2] = {"#1f77b4", "#d62728"};
        const std::vector<double> *series[2] = {&a, &b};
        for (int k = 0; k < 2; ++k) {
            std::string pts;
            for (int i = 0; i < n; ++i) pts += detail::fmt_num(X(i), 1) + "," + detail::fmt_num(Y((*series[k])[std::size_t(i)]), 1) + " ";
            s += std::string("<polyline fill=\"none\" stroke=\"") + colors[k] + "\" stroke-width=\"2\" points=\"" + pts + "\"/>\n";
            for (int i = 0; i < n; ++i)
                s += std::string("<circle r=\"3\" fill=\"") + colors[k] + "\" cx=\"" + detail::fmt_num(X(i), 1) + "\" cy=\"" +
                     detail::fmt_num(Y((*series[k])[std::size_t(i)]), 1) + "\"/>\n";
            const double ly = (panel == 0 ? y0 + 14 : y0 + ph - 26) + 16 * k; // accuracy rises: legend at the bottom
            s += std::string("<line x1=\"") + detail::fmt_num(x0 + pw - 70, 1) + "\" x2=\"" + detail::fmt_num(x0 + pw - 55, 1) +
                 "\" y1=\"" + detail::fmt_num(ly - 4, 1) + "\" y2=\"" + detail::fmt_num(ly - 4, 1) + "\" stroke=\"" + colors[k] +
                 "\" stroke-width=\"2\"/><text x=\"" + detail::fmt_num(x0 + pw - 50, 1) + "\" y=\"" + detail::fmt_num(ly, 1) +
                 "\">" + (k == 0 ? "train" : "test") + "</text>\n";
        }
    }
    return s + "</svg>\n";
}

inline void write_training_svg(const std::string &path, const std::vector<epoch_record> &rows, const std::string &title) {
    detail::write_atomic(path, training_svg(rows, title));
}


/// One line of a chart: points (x, y), optionally an interval [lo, hi] per point (drawn as an
/// error bar), drawn solid or dashed.
struct series {
    std::string name;
    std::vector<double> x, y, lo = {}, hi = {};
    bool dashed = false;
    std::string color = {}; // empty: the palette's next colour
};
/// A line chart: axes, ticks, labels, a legend; logarithmic axes draw only positive values.
struct chart {
    std::string title, xlabel, ylabel;
    std::vector<series> lines;
    bool log_x = false, log_y = false;
    double y_min = NAN, y_max = NAN; // NAN: from the data
    std::vector<double> x_ticks = {}; // empty: from the data (linear) or powers of 10 (log)
};

namespace detail {
inline std::string escape_xml(const std::string &t) {
    std::string e;
    for (char c : t) e += c == '<' ? std::string("&lt;") : c == '>' ? std::string("&gt;") : c == '&' ? std::string("&amp;") : std::string(1, c);
    return e;
}
inline std::string tick_label(double v) {
    char b[32];
    if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3)) std::snprintf(b, sizeof b, "%.0e", v);
    else std::snprintf(b, sizeof b, "%g", v);
    return b;
}
} // namespace detail

/// The chart as a self-contained SVG (640 x 400).
inline std::string line_chart_svg(const chart &c) {
    const double W = 640, H = 400, x0 = 70, y0 = 50, pw = 400, ph = 280;
    auto tx = [&](double v) { return c.log_x ? std::log10(v) : v; };
    auto ty = [&](double v) { return c.log_y ? std::log10(v) : v; };
    auto ok = [&](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!c.log_x || x > 0) && (!c.log_y || y > 0); };
    double xlo = 1e300, xhi = -1e300, ylo = 1e300, yhi = -1e300;
    for (const auto &l : c.lines)
        for (std::size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
            if (!ok(l.x[i], l.y[i])) continue;
            xlo = std::min(xlo, tx(l.x[i])), xhi = std::max(xhi, tx(l.x[i]));
            const double a = i < l.lo.size() && ok(l.x[i], l.lo[i]) ? ty(l.lo[i]) : ty(l.y[i]);
            const double b = i < l.hi.size() && ok(l.x[i], l.hi[i]) ? ty(l.hi[i]) : ty(l.y[i]);
            ylo = std::min({ylo, a, ty(l.y[i])}), yhi = std::max({yhi, b, ty(l.y[i])});
        }
    if (!(xhi >= xlo)) xlo = 0, xhi = 1;
    if (!(yhi >= ylo)) ylo = 0, yhi = 1;
    if (std::isfinite(c.y_min)) ylo = ty(c.y_min);
    if (std::isfinite(c.y_max)) yhi = ty(c.y_max);
    if (c.log_y) ylo = std::floor(ylo), yhi = std::ceil(yhi);
    if (xhi - xlo < 1e-12) xlo -= 0.5, xhi += 0.5;
    if (yhi - ylo < 1e-12) ylo -= 0.5, yhi += 0.5;
    const double xpad = (xhi - xlo) * 0.04;
    xlo -= xpad, xhi += xpad;
    auto X = [&](double v) { return x0 + pw * (tx(v) - xlo) / (xhi - xlo); };
    auto Y = [&](double v) { return y0 + ph * (1 - (ty(v) - ylo) / (yhi - ylo)); };
    using detail::fmt_num;
    std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\" viewBox=\"0 0 640 400\" "
                    "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"" + fmt_num(W, 0) + "\" height=\"" + fmt_num(H, 0) +
                    "\" fill=\"white\"/>\n";
    s += "<text x=\"" + fmt_num(W / 2, 1) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">" + detail::escape_xml(c.title) +
         "</text>\n";
    s += "<rect x=\"" + fmt_num(x0, 1) + "\" y=\"" + fmt_num(y0, 1) + "\" width=\"" + fmt_num(pw, 1) + "\" height=\"" + fmt_num(ph, 1) +
         "\" fill=\"none\" stroke=\"#333\"/>\n";
    // y ticks: decades on a log axis, five steps otherwise
    std::vector<double> yt;
    if (c.log_y)
        for (double e = ylo; e <= yhi + 1e-9; e += std::max(1.0, std::floor((yhi - ylo) / 6))) yt.push_back(std::pow(10.0, e));
    else
        for (int t = 0; t <= 5; ++t) yt.push_back(ylo + (yhi - ylo) * t / 5);
    for (double v : yt) {
        const double y = Y(v);
        s += "<line x1=\"" + fmt_num(x0 - 4, 1) + "\" x2=\"" + fmt_num(x0 + pw, 1) + "\" y1=\"" + fmt_num(y, 1) + "\" y2=\"" + fmt_num(y, 1) +
             "\" stroke=\"#ddd\"/><text x=\"" + fmt_num(x0 - 6, 1) + "\" y=\"" + fmt_num(y + 4, 1) + "\" text-anchor=\"end\">" +
             detail::tick_label(v) + "</text>\n";
    }
    std::vector<double> xt = c.x_ticks;
    if (xt.empty()) {
        if (c.log_x)
            for (double e = std::ceil(xlo); e <= xhi; ++e) xt.push_back(std::pow(10.0, e));
        else {
            const double range = xhi - xlo - 2 * xpad, raw = range / 5, mag = std::pow(10.0, std::floor(std::log10(raw > 0 ? raw : 1)));
            const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
            for (double v = std::ceil((xlo + xpad) / step - 1e-9) * step; v <= xhi - xpad + 1e-9 * step; v += step) xt.push_back(v);
        }
    }
    for (double v : xt) {
        if (c.log_x && !(v > 0)) continue;
        const double x = X(v);
        s += "<line x1=\"" + fmt_num(x, 1) + "\" x2=\"" + fmt_num(x, 1) + "\" y1=\"" + fmt_num(y0, 1) + "\" y2=\"" + fmt_num(y0 + ph + 4, 1) +
             "\" stroke=\"#eee\"/><text x=\"" + fmt_num(x, 1) + "\" y=\"" + fmt_num(y0 + ph + 18, 1) + "\" text-anchor=\"middle\">" +
             detail::tick_label(v) + "</text>\n";
    }
    s += "<text x=\"" + fmt_num(x0 + pw / 2, 1) + "\" y=\"" + fmt_num(y0 + ph + 38, 1) + "\" text-anchor=\"middle\">" +
         detail::escape_xml(c.xlabel) + "</text>\n";
    s += "<text transform=\"translate(18," + fmt_num(y0 + ph / 2, 1) + ") rotate(-90)\" text-anchor=\"middle\">" +
         detail::escape_xml(c.ylabel) + "</text>\n";
    static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"};
    std::size_t k = 0;
    for (const auto &l : c.lines) {
        const std::string col = l.color.empty() ? palette[k % 8] : l.color;
        const std::string dash = l.dashed ? "\" stroke-dasharray=\"6 4" : "";
        std::string pts;
        auto flush = [&] {
            if (!pts.empty())
                s += "<polyline fill=\"none\" stroke=\"" + col + "\" stroke-width=\"2" + dash + "\" points=\"" + pts + "\"/>\n";
            pts.clear();
        };
        for (std::size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
            if (!ok(l.x[i], l.y[i])) {
                flush();
                continue;
            }
            pts += fmt_num(X(l.x[i]), 1) + "," + fmt_num(Y(l.y[i]), 1) + " ";
        }
        flush();
        for (std::size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
            if (!ok(l.x[i], l.y[i]) || l.x.size() > 60) continue;
            s += "<circle r=\"3\" fill=\"" + col + "\" cx=\"" + fmt_num(X(l.x[i]), 1) + "\" cy=\"" + fmt_num(Y(l.y[i]), 1) + "\"/>\n";
            if (i < l.lo.size() && i < l.hi.size() && ok(l.x[i], l.lo[i]) && ok(l.x[i], l.hi[i]))
                s += "<line x1=\"" + fmt_num(X(l.x[i]), 1) + "\" x2=\"" + fmt_num(X(l.x[i]), 1) + "\" y1=\"" + fmt_num(Y(l.lo[i]), 1) +
                     "\" y2=\"" + fmt_num(Y(l.hi[i]), 1) + "\" stroke=\"" + col + "\"/>\n";
        }
        const double ly = y0 + 8 + 18 * double(k);
        s += "<line x1=\"" + fmt_num(x0 + pw + 12, 1) + "\" x2=\"" + fmt_num(x0 + pw + 36, 1) + "\" y1=\"" + fmt_num(ly, 1) + "\" y2=\"" +
             fmt_num(ly, 1) + "\" stroke=\"" + col + "\" stroke-width=\"2" + dash + "\"/><text x=\"" + fmt_num(x0 + pw + 40, 1) +
             "\" y=\"" + fmt_num(ly + 4, 1) + "\">" + detail::escape_xml(l.name) + "</text>\n";
        ++k;
    }
    return s + "</svg>\n";
}
inline void write_line_chart_svg(const std::string &path, const chart &c) { detail::write_atomic(path, line_chart_svg(c)); }

} // namespace kink::io
