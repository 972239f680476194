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

} // namespace kink::io
