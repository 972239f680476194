#pragma once
/// \file
/// Metrics and the training loop's display: accuracy and a confusion matrix from logits, and a
/// progress bar (epoch, batch, running loss and accuracy, samples/s, ETA) redrawn in place on a
/// terminal and printed as one plain line per epoch otherwise.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

namespace kink::nn {

/// The index of the largest of k logits (the first on ties).
template <class T> std::size_t argmax(const T *z, std::size_t k) {
    std::size_t best = 0;
    for (std::size_t j = 1; j < k; ++j)
        if (z[j] > z[best]) best = j;
    return best;
}

/// How many of n samples (logits n x k) have their label as the largest logit.
template <class T, class L> std::size_t count_correct(std::span<const T> logits, std::span<const L> labels, std::size_t k) {
    std::size_t c = 0;
    for (std::size_t s = 0; s < labels.size(); ++s) c += argmax(logits.data() + s * k, k) == std::size_t(labels[s]);
    return c;
}

/// Counts of (true class, predicted class).
struct confusion_matrix {
    std::size_t k;
    std::vector<std::uint64_t> counts;
    explicit confusion_matrix(std::size_t classes) : k(classes), counts(classes * classes) {}
    /// Adds a batch: logits are n x k, labels n.
    template <class T, class L> void add(std::span<const T> logits, std::span<const L> labels) {
        for (std::size_t s = 0; s < labels.size(); ++s)
            ++counts[std::size_t(labels[s]) * k + argmax(logits.data() + s * k, k)];
    }
    std::uint64_t total() const {
        std::uint64_t t = 0;
        for (auto c : counts) t += c;
        return t;
    }
    double accuracy() const {
        std::uint64_t d = 0;
        for (std::size_t i = 0; i < k; ++i) d += counts[i * k + i];
        return total() ? double(d) / double(total()) : 0.0;
    }
    /// A text table: rows are true classes, columns predictions, with per-class recall.
    std::string table(const std::vector<std::string> &names = {}) const {
        auto name = [&](std::size_t i) { return i < names.size() ? names[i] : std::to_string(i); };
        std::size_t w = 6;
        for (std::size_t i = 0; i < k; ++i) w = std::max(w, name(i).size() + 1);
        char buf[64];
        std::string s = std::string(w, ' ') + " predicted\n" + std::string(w, ' ');
        for (std::size_t j = 0; j < k; ++j) {
            std::snprintf(buf, sizeof buf, "%6zu", j);
            s += buf;
        }
        s += "  recall\n";
        for (std::size_t i = 0; i < k; ++i) {
            std::string n = name(i);
            s += n + std::string(w - n.size(), ' ');
            std::uint64_t row = 0;
            for (std::size_t j = 0; j < k; ++j) {
                std::snprintf(buf, sizeof buf, "%6llu", static_cast<unsigned long long>(counts[i * k + j]));
                s += buf;
                row += counts[i * k + j];
            }
            std::snprintf(buf, sizeof buf, "  %.3f\n", row ? double(counts[i * k + i]) / double(row) : 0.0);
            s += buf;
        }
        return s;
    }
};

/// The progress display of a training loop.
class progress_bar {
  public:
    explicit progress_bar(int epochs, std::FILE *out = stdout) : epochs_(epochs), out_(out), tty_(::isatty(::fileno(out)) == 1) {}
    bool on_terminal() const { return tty_; }
    void start_epoch(int epoch, std::size_t batches) {
        epoch_ = epoch;
        batches_ = batches;
        loss_sum_ = 0;
        correct_ = 0;
        seen_ = 0;
        t0_ = clock::now();
    }
    /// After batch b (1-based) of n samples with mean loss `loss` and `correct` right answers.
    void batch(std::size_t b, std::size_t n, double loss, std::size_t correct) {
        loss_sum_ += loss * double(n);
        correct_ += correct;
        seen_ += n;
        if (!tty_) return;
        const auto now = clock::now();
        if (b != batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        const double secs = std::chrono::duration<double>(now - t0_).count();
        const double rate = secs > 0 ? double(seen_) / secs : 0;
        const double eta = b ? secs * double(batches_ - b) / double(b) : 0;
        const int width = 24, fill = int(double(width) * double(b) / double(batches_ ? batches_ : 1));
        std::fprintf(out_, "\r\x1b[2Kepoch %d/%d [%s%s] %zu/%zu loss %.4f acc %.4f %.0f samples/s ETA %.1fs", epoch_, epochs_,
                     std::string(std::size_t(fill), '#').c_str(), std::string(std::size_t(width - fill), '.').c_str(), b,
                     batches_, running_loss(), running_accuracy(), rate, eta);
        std::fflush(out_);
    }
    double running_loss() const { return seen_ ? loss_sum_ / double(seen_) : 0; }
    double running_accuracy() const { return seen_ ? double(correct_) / double(seen_) : 0; }
    double seconds() const { return std::chrono::duration<double>(clock::now() - t0_).count(); }
    /// Ends the epoch with one line (replacing the bar on a terminal).
    void end_epoch(const std::string &summary) {
        std::fprintf(out_, "%s%s\n", tty_ ? "\r\x1b[2K" : "", summary.c_str());
        std::fflush(out_);
    }

  private:
    using clock = std::chrono::steady_clock;
    int epochs_, epoch_ = 0;
    std::FILE *out_;
    bool tty_;
    std::size_t batches_ = 0, correct_ = 0, seen_ = 0;
    double loss_sum_ = 0;
    clock::time_point t0_{}, last_draw_{};
};

} // namespace kink::nn
