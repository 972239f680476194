#pragma once
// Command-line options of the examples: `--name value` or `--name=value`, each typed and checked
// where it is declared. Integers parse as integers (decimal digits, no fraction, no exponent, no
// sign unless the range allows it) within a range; numbers as full decimals within a range;
// words from a fixed list. Every message names the option and the text it was given, and the
// program exits with status 2.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace examples {

class options_parser {
  public:
    options_parser(std::string program, std::string usage) : program_(std::move(program)), usage_(std::move(usage)) {}

    /// A whole number in [lo, hi].
    template <class I> void integer(std::string name, I &out, long long lo, long long hi) {
        add(std::move(name), true, [this, &out, lo, hi](const std::string &opt, const std::string &v) {
            std::size_t i = 0;
            const bool neg = !v.empty() && v[0] == '-';
            if (neg) i = 1;
            if (i == v.size() || v.find_first_not_of("0123456789", i) != std::string::npos)
                fail(opt + ": '" + v + "' is not a whole number");
            errno = 0;
            const long long n = std::strtoll(v.c_str(), nullptr, 10);
            if (errno == ERANGE || n < lo || n > hi)
                fail(opt + ": " + v + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
            out = static_cast<I>(n);
        });
    }
    /// A number in (lo, hi] (lo excluded: learning rates must be positive).
    void number(std::string name, double &out, double lo, double hi) {
        add(std::move(name), true, [this, &out, lo, hi](const std::string &opt, const std::string &v) {
            char *end = nullptr;
            errno = 0;
            const double d = std::strtod(v.c_str(), &end);
            if (v.empty() || *end || v.find_first_of(" \t") != std::string::npos) fail(opt + ": '" + v + "' is not a number");
            if (errno == ERANGE || !(d > lo && d <= hi)) {
                char b[128];
                std::snprintf(b, sizeof b, "%s: %s is out of range (%g, %g]", opt.c_str(), v.c_str(), lo, hi);
                fail(b);
            }
            out = d;
        });
    }
    /// One word of `choices`.
    void word(std::string name, std::string &out, std::vector<std::string> choices) {
        add(std::move(name), true, [this, &out, choices](const std::string &opt, const std::string &v) {
            std::string list;
            for (const auto &c : choices) {
                if (c == v) {
                    out = v;
                    return;
                }
                list += (list.empty() ? "" : ", ") + c;
            }
            fail(opt + " must be one of " + list + ", not '" + v + "'");
        });
    }
    /// Any non-empty text (a path).
    void text(std::string name, std::string &out) {
        add(std::move(name), true, [this, &out](const std::string &opt, const std::string &v) {
            if (v.empty()) fail(opt + ": needs a non-empty value");
            out = v;
        });
    }
    /// A flag without a value; `action` runs when it is given.
    void flag(std::string name, std::function<void()> action) {
        add(std::move(name), false, [action](const std::string &, const std::string &) { action(); });
    }

    void parse(int argc, char **argv) const {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--help" || a == "-h") {
                std::fputs(usage_.c_str(), stdout);
                std::exit(0);
            }
            const std::size_t eq = a.find('=');
            const std::string name = a.substr(0, eq);
            const option *o = find(name);
            if (!o) fail("unknown option '" + a + "'", true);
            if (!o->takes_value) {
                if (eq != std::string::npos) fail(name + " takes no value");
                o->apply(name, {});
                continue;
            }
            std::string v;
            if (eq != std::string::npos) v = a.substr(eq + 1);
            else if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) v = argv[++i];
            else fail(name + " needs a value", true);
            o->apply(name, v);
        }
    }
    [[noreturn]] void fail(const std::string &message, bool with_usage = false) const {
        std::fprintf(stderr, "%s: %s\n%s", program_.c_str(), message.c_str(), with_usage ? usage_.c_str() : "");
        std::exit(2);
    }

  private:
    struct option {
        std::string name;
        bool takes_value;
        std::function<void(const std::string &, const std::string &)> apply;
    };
    void add(std::string name, bool value, std::function<void(const std::string &, const std::string &)> f) {
        options_.push_back({std::move(name), value, std::move(f)});
    }
    const option *find(const std::string &name) const {
        for (const auto &o : options_)
            if (o.name == name) return &o;
        return nullptr;
    }
    std::string program_, usage_;
    std::vector<option> options_;
};

} // namespace examples
