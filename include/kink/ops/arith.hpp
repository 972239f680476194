#pragma once
/// \file
/// Arithmetic: + - * / unary minus and integer powers. Each op: value rule and local derivative
/// side by side. Also the simplifying constructors `add_t`, `mul_t`, ... that the chain rule
/// uses to build derivative graphs (0/1 identities and exact rational constant folding), and the
/// C++ operators that build (unsimplified) user graphs.

#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>

#include <kink/expr/expr.hpp>

namespace kink {

/// How a printer lays an op out.
enum class notation { infix, prefix, function, power, piecewise };

struct add_op;
struct sub_op;
struct mul_op;
struct div_op;
struct neg_op;
template <int N> struct pow_op;

// ---------------------------------------------------------------------------------------------
// Simplifying constructors (graph level). Exact: they fold rationals and drop 0/1 identities.

namespace detail {
constexpr std::int64_t gcd_abs(std::int64_t a, std::int64_t b) { return std::gcd(a, b); }
template <std::int64_t N, std::int64_t D> struct make_lit {
    static_assert(D != 0, "kink: division by the constant 0");
    static constexpr std::int64_t s = D < 0 ? -1 : 1;
    static constexpr std::int64_t g = gcd_abs(N, D) == 0 ? 1 : gcd_abs(N, D);
    using type = lit_leaf<s * N / g, s * D / g>;
};
} // namespace detail
template <std::int64_t N, std::int64_t D = 1> using lit_t = typename detail::make_lit<N, D>::type;

template <class A> struct neg_s { using type = node<neg_op, A>; };
template <class A> using neg_t = typename neg_s<A>::type;
template <std::int64_t N, std::int64_t D> struct neg_s<lit_leaf<N, D>> { using type = lit_t<-N, D>; };
template <class A> struct neg_s<node<neg_op, A>> { using type = A; };

template <class A, class B> struct add_s { using type = node<add_op, A, B>; };
template <class A, class B> struct sub_s { using type = node<sub_op, A, B>; };
template <class A, class B> struct mul_s { using type = node<mul_op, A, B>; };
template <class A, class B> struct div_s { using type = node<div_op, A, B>; };
template <class A, class B> using add_t = typename add_s<A, B>::type;
template <class A, class B> using sub_t = typename sub_s<A, B>::type;
template <class A, class B> using mul_t = typename mul_s<A, B>::type;
template <class A, class B> using div_t = typename div_s<A, B>::type;

namespace detail {
// Each rule set picks the first case whose condition holds (meta::first_true over the conditions;
// the last case, "otherwise", keeps the node), and each case is a partial specialization: class
// templates only, since g++ names every function instantiated on these (graph-sized) types.
template <std::size_t Case, class A, class B> struct add_case { using type = node<add_op, A, B>; };
template <class A, class B> struct add_case<0, A, B> { using type = B; };
template <class A, class B> struct add_case<1, A, B> { using type = A; };
template <class A, class B> struct add_case<2, A, B> { using type = lit_t<A::num * B::den + B::num * A::den, A::den * B::den>; };
template <class A, class B> struct add_case<3, A, B> { using type = typename mul_s<lit_leaf<2>, A>::type; };
template <class A, class B> struct add_case<4, A, B> { using type = typename sub_s<A, arg_t<0, B>>::type; };
template <class A, class B> struct add_case<5, A, B> { using type = typename sub_s<B, arg_t<0, A>>::type; };
template <class A, class B>
struct add_rules : add_case<meta::first_true(std::array<bool, 7>{KINK_SAME(A, zero_t), KINK_SAME(B, zero_t), is_lit<A>::value && is_lit<B>::value,
                                                                 KINK_SAME(A, B), KINK_SAME(op_t<B>, neg_op), KINK_SAME(op_t<A>, neg_op), false}),
                            A, B> {};

template <std::size_t Case, class A, class B> struct sub_case { using type = node<sub_op, A, B>; };
template <class A, class B> struct sub_case<0, A, B> { using type = A; };
template <class A, class B> struct sub_case<1, A, B> { using type = neg_t<B>; };
template <class A, class B> struct sub_case<2, A, B> { using type = lit_t<A::num * B::den - B::num * A::den, A::den * B::den>; };
template <class A, class B> struct sub_case<3, A, B> { using type = zero_t; };
template <class A, class B> struct sub_case<4, A, B> { using type = typename add_s<A, arg_t<0, B>>::type; };
template <class A, class B>
struct sub_rules : sub_case<meta::first_true(std::array<bool, 6>{KINK_SAME(B, zero_t), KINK_SAME(A, zero_t), is_lit<A>::value && is_lit<B>::value,
                                                                 KINK_SAME(A, B), KINK_SAME(op_t<B>, neg_op), false}),
                            A, B> {};

template <std::size_t Case, class A, class B> struct mul_case { using type = node<mul_op, A, B>; };
template <class A, class B> struct mul_case<0, A, B> { using type = zero_t; };
template <class A, class B> struct mul_case<1, A, B> { using type = B; };
template <class A, class B> struct mul_case<2, A, B> { using type = A; };
template <class A, class B> struct mul_case<3, A, B> { using type = lit_t<A::num * B::num, A::den * B::den>; };
template <class A, class B> struct mul_case<4, A, B> { using type = neg_t<B>; };
template <class A, class B> struct mul_case<5, A, B> { using type = neg_t<A>; };
template <class A, class B> struct mul_case<6, A, B> { using type = typename mul_s<B, A>::type; };
template <class A, class B> struct mul_case<7, A, B> { using type = neg_t<typename mul_s<arg_t<0, A>, B>::type>; };
template <class A, class B> struct mul_case<8, A, B> { using type = neg_t<typename mul_s<A, arg_t<0, B>>::type>; };
template <class A, class B>
struct mul_rules
    : mul_case<meta::first_true(std::array<bool, 10>{KINK_SAME(A, zero_t) || KINK_SAME(B, zero_t), KINK_SAME(A, one_t), KINK_SAME(B, one_t),
                                                     is_lit<A>::value && is_lit<B>::value, KINK_SAME(A, lit_leaf<-1>), KINK_SAME(B, lit_leaf<-1>),
                                                     is_lit<B>::value, KINK_SAME(op_t<A>, neg_op), KINK_SAME(op_t<B>, neg_op), false}),
               A, B> {};

template <std::size_t Case, class A, class B> struct div_case { using type = node<div_op, A, B>; };
template <class A, class B> struct div_case<0, A, B> { using type = A; };
template <class A, class B> struct div_case<1, A, B> { using type = zero_t; };
template <class A, class B> struct div_case<2, A, B> { using type = lit_t<A::num * B::den, A::den * B::num>; };
template <class A, class B>
struct div_rules
    : div_case<meta::first_true(std::array<bool, 4>{KINK_SAME(B, one_t), KINK_SAME(A, zero_t), is_lit<A>::value && is_lit<B>::value, false}), A, B> {};
} // namespace detail

// The rules apply whenever a leaf or a node is involved; the primary templates above are only
// reached through these partial specialisations' `rules`.
template <class A, class B>
    requires(is_lit_v<A> || is_lit_v<B> || KINK_SAME(A, B) || KINK_SAME(op_t<A>, neg_op) ||
             KINK_SAME(op_t<B>, neg_op))
struct add_s<A, B> : detail::add_rules<A, B> {};
template <class A, class B>
    requires(is_lit_v<A> || is_lit_v<B> || KINK_SAME(A, B) || KINK_SAME(op_t<B>, neg_op))
struct sub_s<A, B> : detail::sub_rules<A, B> {};
template <class A, class B>
    requires(is_lit_v<A> || is_lit_v<B> || KINK_SAME(op_t<A>, neg_op) || KINK_SAME(op_t<B>, neg_op))
struct mul_s<A, B> : detail::mul_rules<A, B> {};
template <class A, class B>
    requires(is_lit_v<A> || is_lit_v<B>)
struct div_s<A, B> : detail::div_rules<A, B> {};

/// x^N, simplified for N = 0 and 1.
template <int N, class A> struct pow_s { using type = node<pow_op<N>, A>; };
template <class A> struct pow_s<0, A> { using type = one_t; };
template <class A> struct pow_s<1, A> { using type = A; };
template <int N, class A> using pow_t = typename pow_s<N, A>::type;

// ---------------------------------------------------------------------------------------------
// The ops

struct add_op {
    static constexpr std::string_view name = "+", latex = "+";
    static constexpr notation style = notation::infix;
    static constexpr int prec = 1;
    /// An addition: a kernel that declares absorbs_bias adds `this + b` in its epilogue.
    static constexpr bool bias_add = true;
    template <class T> static constexpr T eval(T a, T b) { return a + b; }
    template <std::size_t I, class Self> using partial = one_t;
};
struct sub_op {
    static constexpr std::string_view name = "-", latex = "-";
    static constexpr notation style = notation::infix;
    static constexpr int prec = 1;
    template <class T> static constexpr T eval(T a, T b) { return a - b; }
    template <std::size_t I, class Self> using partial = std::conditional_t<I == 0, one_t, lit_leaf<-1>>;
};
struct mul_op {
    static constexpr std::string_view name = "*", latex = "\\cdot";
    static constexpr notation style = notation::infix;
    static constexpr int prec = 2;
    template <class T> static constexpr T eval(T a, T b) { return a * b; }
    template <std::size_t I, class Self> using partial = arg_t<1 - I, Self>;
};
struct div_op {
    static constexpr std::string_view name = "/", latex = "\\frac";
    static constexpr notation style = notation::infix;
    static constexpr int prec = 2;
    template <class T> static constexpr T eval(T a, T b) { return a / b; }
    /// d/da = 1/b, d/db = -(a/b)/b (reuses the quotient computed in the forward pass)
    template <std::size_t I, class Self>
    using partial = std::conditional_t<I == 0, div_t<one_t, arg_t<1, Self>>, neg_t<div_t<Self, arg_t<1, Self>>>>;
};
struct neg_op {
    static constexpr std::string_view name = "-", latex = "-";
    static constexpr notation style = notation::prefix;
    static constexpr int prec = 3;
    template <class T> static constexpr T eval(T a) { return -a; }
    template <std::size_t I, class Self> using partial = lit_leaf<-1>;
};
template <int N> struct pow_op {
    static_assert(N >= 2 || N < 0, "kink: pow<N> needs N >= 2 or N < 0 (pow<0> is 1, pow<1> is x)");
    static constexpr int exponent = N;
    static constexpr std::string_view name = "^", latex = "^";
    static constexpr notation style = notation::power;
    static constexpr int prec = 4;
    template <class T> static constexpr T eval(T a) {
        if constexpr (N < 0) {
            return T(1) / pow_op<-N>::eval(a);
        } else {
            T r = a; // square-and-multiply, exact for N = 2
            for (int i = 1; i < N; ++i) r *= a;
            return r;
        }
    }
    template <std::size_t I, class Self> using partial = mul_t<lit_leaf<N>, pow_t<N - 1, arg_t<0, Self>>>;
};

// ---------------------------------------------------------------------------------------------
// Building user graphs. Plain C++ numbers are refused with a message that says what to write.

template <class T> constexpr auto as_expr(const T &v) {
    if constexpr (is_ex_v<T>) {
        return v;
    } else {
        static_assert(meta::always_false<T>,
                      "kink: cannot mix a plain C++ number into an expression: write 2_c or lit<1, 2> for an "
                      "exact constant, or constant<\"name\">(value) for a runtime constant");
        return ex<zero_t>{};
    }
}

template <class A, class B>
concept binary_operands = (is_ex_v<A> || is_ex_v<B>);
/// Some but not all arguments are expressions: a plain C++ number stands where a constant is
/// needed. The functions that take constants (leaky_relu's slope, huber's delta, max/min/clamp
/// arguments) have an overload for this case that reports as_expr's one message.
template <class... A>
concept plain_number_mix = (is_ex_v<A> || ...) && !(is_ex_v<A> && ...);

template <class A, class B>
    requires binary_operands<A, B>
constexpr auto operator+(const A &a, const B &b) {
    return make_node<add_op>(as_expr(a), as_expr(b));
}
template <class A, class B>
    requires binary_operands<A, B>
constexpr auto operator-(const A &a, const B &b) {
    return make_node<sub_op>(as_expr(a), as_expr(b));
}
/// The matrix product `W * x`: a matrix (rank 2) times a vector or a matrix. Not an elementwise
/// op: its value and its two vector-Jacobian products are the GEMM kernels of exec/ (forward
/// `W x`, weight gradient `g x^T`, input gradient `W^T g`).
struct matmul_op {
    static constexpr std::string_view name = "*", latex = "\\,";
    static constexpr notation style = notation::infix;
    static constexpr int prec = 2;
    static constexpr bool elementwise = false;
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class SA, class SB> struct shape_rule<SA, SB> {
        static constexpr bool ok = SA::rank == 2 && (SB::rank == 1 || SB::rank == 2) && SA::dims[1] == SB::dims[0];
        template <std::size_t... R> static auto tail(std::index_sequence<R...>) -> shape<SA::dims[0], SB::dims[R + 1]...>;
        using type = std::conditional_t<ok, decltype(tail(std::make_index_sequence<SB::rank - 1>{})), void>;
    };
    /// The adjoint contributions: g x^T to W, W^T g to x (printed per sample).
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *args, const std::string &) {
        if constexpr (K == 0) return g + "\\, {" + args[1] + "}^{\\top}";
        else return "{" + args[0] + "}^{\\top} " + g;
    }
};
/// The transpose of a matrix (printed A^T).
struct transpose_op {
    static constexpr std::string_view name = "transpose", latex = "\\operatorname{transpose}";
    static constexpr notation style = notation::function;
    static constexpr int prec = 5;
    static constexpr bool elementwise = false;
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class S> struct shape_rule<S> {
        static constexpr bool ok = S::rank == 2;
        using type = std::conditional_t<ok, shape<S::dims[S::rank == 2 ? 1 : 0], S::dims[0]>, void>;
    };
    template <std::size_t K, class Node> static std::string vjp_latex(const std::string &g, const std::string *, const std::string &) {
        return "{" + g + "}^{\\top}";
    }
};

/// Whether an op is applied elementwise (every op but the tensor ops that say otherwise).
template <class Op> inline constexpr bool is_elementwise_v = !requires { requires !Op::elementwise; };

template <class A, class B>
    requires binary_operands<A, B>
constexpr auto operator*(const A &a, const B &b) {
    if constexpr (is_ex_v<A> && is_ex_v<B>) {
        if constexpr (shape_of_t<graph_t<A>>::rank == 2) return make_node<matmul_op>(a, b);
        else return make_node<mul_op>(a, b);
    } else {
        return make_node<mul_op>(as_expr(a), as_expr(b));
    }
}
/// `transpose(W)`: a matrix's transpose, e.g. `transpose(W) * g`.
template <expression X> constexpr auto transpose(const X &a) { return make_node<transpose_op>(a); }
/// Elementwise product of two tensors of one shape (`*` is the matrix product on matrices).
template <expression A, expression B> constexpr auto hadamard(const A &a, const B &b) { return make_node<mul_op>(a, b); }
template <class A, class B>
    requires binary_operands<A, B>
constexpr auto operator/(const A &a, const B &b) {
    return make_node<div_op>(as_expr(a), as_expr(b));
}
/// `-x`; the negation of an exact literal is the negative literal (`-0.5_c` is `lit<-1, 2>`), so
/// it stands wherever a constant is required (elu's alpha, threshold's value).
template <expression X> constexpr auto operator-(const X &a) {
    if constexpr (is_lit_v<graph_t<X>>) return ex<lit_t<-graph_t<X>::num, graph_t<X>::den>>{};
    else return make_node<neg_op>(a);
}

/// x^N for a compile-time integer N: `pow<3>(x)`.
template <int N, expression X> constexpr auto pow(const X &a) {
    if constexpr (N == 1) return a;
    else if constexpr (N == 0) return ex<one_t>{};
    else return make_node<pow_op<N>>(a);
}

} // namespace kink
