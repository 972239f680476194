#pragma once
/// \file
/// Binding a batch to a compiled program: the compile-time checks of a graph's leaves and of the
/// bindings a step names, the runtime constants' range checks, and the batch size the bindings
/// agree on (exec/program.hpp binds through these; they name no program, so every program shares
/// their code).

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <kink/exec/plan.hpp>

namespace kink {

namespace detail {
template <class N, role K = base_role_of<N>::value> struct node_checks { // no static data member: see meta::index_of
    static_assert(K != role::variable, "kink: compile: the graph has a var<> leaf; use param<>, input<> or label<>");
    static_assert(K != role::unknown, "kink: compile: an op of this graph has no kernel (specialise kink::kernel<Op>)");
    using ok = std::true_type;
};

/// Whether the bindings B... bind leaf L.
template <class L, class... B> inline constexpr bool bound_v = (KINK_SAME(typename B::leaf, L) || ...);

/// An op whose policy reads runtime constant C may accept only some of its values (max_pool2d: a
/// tie rule in [-1, 1]); it declares `accepts_constant(v)` and `constant_domain`.
template <class C, class N> struct constant_check {
    static void run(double) {}
};
template <class C, class Op, class... A>
    requires requires(double v) { Op::accepts_constant(v); }
struct constant_check<C, node<Op, A...>> {
    static void run(double v) {
        if (meta::in_list_v<C, typename op_rconsts<Op>::type> && !Op::accepts_constant(v))
            throw kink_error("kink: program::constant<\"" + std::string(C::name()) + "\">(" + std::to_string(v) + "): " +
                             std::string(Op::name) + " takes " + std::string(Op::constant_domain));
    }
};
template <class C, class... N> void check_constant(double v, meta::list<N...>) {
    (void)std::initializer_list<int>{0, (constant_check<C, N>::run(v), 0)...};
}
} // namespace detail

/// Names the leaf in the failing condition of a misuse (clang prints a fixed_string as codes).
template <class Name, bool Bound> struct input_bound {
    static constexpr bool value = Bound;
};

/// A compiled training step for a loss graph (per-sample scalar) in scalar type T, differentiating
/// with respect to a list of params; `Key` names both (expr/key.hpp: key_t<list<loss, params>>),
/// so that no function of the program spells out the graph in its name. See `compile`.
namespace detail {
/// The batch size of a step's bindings, checked as each is added: functions of no program, so
/// that every program shares them.
class batch_extent {
  public:
    void add(std::string_view name, std::size_t values, std::size_t per) {
        if (values % per != 0)
            throw std::invalid_argument("kink: step: input '" + std::string(name) + "' has " + std::to_string(values) +
                                        " values, not a multiple of its size " + std::to_string(per));
        const std::size_t m = values / per;
        if (n_ != none && m != n_)
            throw std::invalid_argument("kink: step: '" + std::string(name) + "' holds a batch of " + std::to_string(m) + ", '" +
                                        std::string(first_) + "' a batch of " + std::to_string(n_));
        if (n_ == none) first_ = name;
        n_ = m;
    }
    std::size_t get() const {
        if (n_ == none || n_ == 0) throw std::invalid_argument("kink: step: empty batch (bind every input and label to batch-sized data)");
        return n_;
    }

  private:
    std::size_t n_ = none;
    std::string_view first_;
};
/// Copies n labels into dst, each checked to be a class in [0, classes).
template <class Labels> void copy_labels(const Labels &y, std::size_t n, std::size_t classes, std::string_view name, std::int32_t *dst) {
    for (std::size_t s = 0; s < n; ++s) {
        const auto v = y[s];
        if (!(v >= 0 && static_cast<std::size_t>(v) < classes))
            throw std::invalid_argument("kink: step: label '" + std::string(name) + "' of sample " + std::to_string(s) + " is " +
                                        std::to_string(v) + ", outside [0, " + std::to_string(classes) + ")");
        dst[s] = static_cast<std::int32_t>(v);
    }
}
} // namespace detail

} // namespace kink
