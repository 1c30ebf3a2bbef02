// Expressions of the DSL: leaves (inputs, states, parameters), operations on them, and the
// compile-time shape rules.
//
// Every expression is a value whose type is its graph: `W * x + b` has type
// Expr<op::add, Vec<Dim<Term<4,'H'>>>, NoAttr, Expr<op::matmul, ...>, Leaf<param_kind, ...>>.
// Shapes are checked as the expression is built. A shape error fires a static_assert inside a
// helper named after the rule it breaks, whose template arguments are the shapes involved, so the
// compiler's "required from" trace shows both, e.g.
//
//   In instantiation of 'struct elementwise_operands_must_have_the_same_length<
//       Vec<Dim<Term<4, 'H'>>>, Vec<Dim<Term<1, 'H'>>>>':
//   error: static assertion failed: cellforge: the operands of an elementwise op (+ - * /) must have
//          the same length, or one of them length 1 ...
//
// and the expression becomes `Invalid`, which absorbs every later use silently, so one mistake
// gives one error.
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include "codegen/ir/graph.hpp"
#include "dsl/dims.hpp"

namespace cellforge::dsl {

// --- shapes --------------------------------------------------------------------------------------

/// A vector of Rows features per batch row.
template <class Rows>
struct Vec {
  using rows = Rows;
};
/// A matrix parameter [Rows, Cols].
template <class Rows, class Cols>
struct Mat {
  using rows = Rows;
  using cols = Cols;
};

template <class S>
struct is_matrix_shape : std::false_type {};
template <class R, class C>
struct is_matrix_shape<Mat<R, C>> : std::true_type {};

// --- op tags (readable in compiler messages) ------------------------------------------------------

namespace op {
#define CELLFORGE_DSL_OP(name, ir_op) \
  struct name {                       \
    static constexpr ir::Op ir = ir::Op::ir_op; \
  };
CELLFORGE_DSL_OP(neg, neg)
CELLFORGE_DSL_OP(sigmoid, sigmoid)
CELLFORGE_DSL_OP(tanh, tanh)
CELLFORGE_DSL_OP(relu, relu)
CELLFORGE_DSL_OP(exp, exp)
CELLFORGE_DSL_OP(log, log)
CELLFORGE_DSL_OP(sqrt, sqrt)
CELLFORGE_DSL_OP(rsqrt, rsqrt)
CELLFORGE_DSL_OP(stop_gradient, stop_gradient)
CELLFORGE_DSL_OP(add, add)
CELLFORGE_DSL_OP(sub, sub)
CELLFORGE_DSL_OP(mul, mul)
CELLFORGE_DSL_OP(div, div)
CELLFORGE_DSL_OP(matmul, matmul)
CELLFORGE_DSL_OP(slice, slice)
CELLFORGE_DSL_OP(concat, concat)
CELLFORGE_DSL_OP(sum, sum)
CELLFORGE_DSL_OP(mean, mean)
CELLFORGE_DSL_OP(constant, constant)
#undef CELLFORGE_DSL_OP
/// A label on a value ("i", "c_next"); no computation.
struct named {};
}  // namespace op

// --- leaves and expressions ------------------------------------------------------------------------

struct input_kind {};
struct state_kind {};
struct param_kind {};

/// A named leaf: an input x_t, a state s_{t-1} or a parameter. Name is a hana::string.
template <class Kind, class Name, class Shape>
struct Leaf {
  using shape = Shape;
  using kind = Kind;
  using name = Name;
};

struct NoAttr {};

/// An operation `Tag` on `Args...` giving a value of `Shape`. Attr carries what the op needs at
/// compile time: the offset of a slice (a Dim), the label of a named value (a hana::string).
template <class Tag, class Shape, class Attr, class... Args>
struct Expr {
  using shape = Shape;
  using tag = Tag;
  using attr = Attr;
  hana::tuple<Args...> args;
  double value = 0;  // op::constant
};

/// The value of an expression that broke a rule; it absorbs every later use.
struct Invalid {
  using shape = Vec<One>;
};

template <class T>
struct is_expr : std::false_type {};
template <class K, class N, class S>
struct is_expr<Leaf<K, N, S>> : std::true_type {};
template <class T, class S, class A, class... Args>
struct is_expr<Expr<T, S, A, Args...>> : std::true_type {};
template <>
struct is_expr<Invalid> : std::true_type {};

/// Any DSL expression.
template <class T>
concept Expression = is_expr<std::remove_cvref_t<T>>::value;
/// A C++ number, which becomes a constant of length 1.
template <class T>
concept Number = std::is_arithmetic_v<std::remove_cvref_t<T>>;

template <class T>
constexpr bool is_invalid = std::is_same_v<std::remove_cvref_t<T>, Invalid>;
template <class T>
constexpr bool is_matrix = is_matrix_shape<typename std::remove_cvref_t<T>::shape>::value;
template <class T>
using rows_of = typename std::remove_cvref_t<T>::shape::rows;

// --- declaring leaves ------------------------------------------------------------------------------

template <class T>
constexpr bool always_false = false;

template <class Name>
struct a_leaf_needs_a_name {
  static_assert(always_false<Name>, "cellforge: inputs, states and parameters need a non-empty name, e.g. \"x\"_s");
};
template <class Size>
struct sizes_must_be_positive {
  static_assert(always_false<Size>,
                "cellforge: the size of an input, state or parameter must be positive (no negative terms, not 0)");
};

template <class D>
constexpr bool positive_dim = nonnegative<D>() && !std::is_same_v<canonical_dim<D>, Zero>;

namespace detail {
template <class Kind, class Shape, char... N>
constexpr auto make_leaf(hana::string<N...>) {
  if constexpr (sizeof...(N) == 0) {
    (void)a_leaf_needs_a_name<hana::string<N...>>{};
    return Invalid{};
  } else {
    return Leaf<Kind, hana::string<N...>, Shape>{};
  }
}
template <class D>
constexpr bool check_size() {
  if constexpr (!positive_dim<D>) (void)sizes_must_be_positive<D>{};
  return positive_dim<D>;
}
}  // namespace detail

/// A per-step input of the cell: `auto x = input("x"_s, X);`
template <class Name, class... T>
constexpr auto input(Name name, Dim<T...>) {
  if constexpr (!detail::check_size<Dim<T...>>()) return Invalid{};
  else return detail::make_leaf<input_kind, Vec<Dim<T...>>>(name);
}
/// A state carried from step to step: `auto h = state("h"_s, H);`
template <class Name, class... T>
constexpr auto state(Name name, Dim<T...>) {
  if constexpr (!detail::check_size<Dim<T...>>()) return Invalid{};
  else return detail::make_leaf<state_kind, Vec<Dim<T...>>>(name);
}
/// A vector parameter: `auto b = param("b"_s, 4_c * H);`
template <class Name, class... T>
constexpr auto param(Name name, Dim<T...>) {
  if constexpr (!detail::check_size<Dim<T...>>()) return Invalid{};
  else return detail::make_leaf<param_kind, Vec<Dim<T...>>>(name);
}
/// A matrix parameter [rows, cols]: `auto W = param("W"_s, 4_c * H, X);`
template <class Name, class... R, class... C>
constexpr auto param(Name name, Dim<R...>, Dim<C...>) {
  if constexpr (!detail::check_size<Dim<R...>>() || !detail::check_size<Dim<C...>>()) return Invalid{};
  else return detail::make_leaf<param_kind, Mat<Dim<R...>, Dim<C...>>>(name);
}

// --- the rules, each a helper named after it --------------------------------------------------------

template <class LeftShape, class RightShape>
struct elementwise_operands_must_have_the_same_length {
  static_assert(always_false<LeftShape>,
                "cellforge: the operands of an elementwise op (+ - * /) must have the same length, or one of them "
                "length 1 (the two shapes are the template arguments of this helper)");
};
template <class Shape>
struct a_matrix_parameter_can_only_be_used_in_a_matmul {
  static_assert(always_false<Shape>,
                "cellforge: a matrix parameter can only be used as W in a matmul W * v; elementwise ops, "
                "activations, slices, concat, sums, states and outputs take vectors");
};
template <class MatrixShape, class VectorShape>
struct matmul_columns_must_equal_the_vector_length {
  static_assert(always_false<MatrixShape>,
                "cellforge: in W * v the number of columns of W must equal the length of v (the shapes are the "
                "template arguments of this helper)");
};
template <class VectorShape, class MatrixShape>
struct write_the_matrix_on_the_left_of_a_matmul {
  static_assert(always_false<VectorShape>, "cellforge: write W * v, with the matrix parameter on the left; v * W is not a matmul");
};
template <class LeftShape, class RightShape>
struct a_matmul_multiplies_a_matrix_by_a_vector {
  static_assert(always_false<LeftShape>,
                "cellforge: W * V of two matrices is not supported; a matmul multiplies a matrix parameter by a vector");
};
template <class Length, class Parts>
struct split_length_must_divide_into_equal_parts {
  static_assert(always_false<Length>,
                "cellforge: split<k>(v) needs the length of v to divide by k term by term (4H splits into 4 parts "
                "of H, but H+X does not split into 2)");
};
template <class Parts>
struct split_needs_at_least_two_parts {
  static_assert(always_false<Parts>, "cellforge: split<k>(v) needs k >= 2");
};
template <class Length, class Offset, class SliceLength>
struct a_slice_must_lie_inside_its_vector {
  static_assert(always_false<Length>,
                "cellforge: slice(v, offset, n) needs 0 <= offset and offset + n <= length of v for any sizes, and "
                "n > 0 (length, offset and n are the template arguments of this helper)");
};

// --- building expressions ------------------------------------------------------------------------

namespace detail {

template <class T>
constexpr auto as_expr(T&& v) {
  if constexpr (Number<T>) {
    Expr<op::constant, Vec<One>, NoAttr> c{};
    c.value = static_cast<double>(v);
    return c;
  } else {
    return std::remove_cvref_t<T>(std::forward<T>(v));
  }
}

template <class Tag, class A>
constexpr auto unary(A a) {
  if constexpr (is_invalid<A>) return Invalid{};
  else if constexpr (is_matrix<A>) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<typename A::shape>{};
    return Invalid{};
  } else {
    return Expr<Tag, typename A::shape, NoAttr, A>{hana::make_tuple(a)};
  }
}

template <class Tag, class A, class B>
constexpr auto elementwise(A a, B b) {
  if constexpr (is_invalid<A> || is_invalid<B>) return Invalid{};
  else if constexpr (is_matrix<A> || is_matrix<B>) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<std::conditional_t<is_matrix<A>, typename A::shape,
                                                                              typename B::shape>>{};
    return Invalid{};
  } else {
    using RA = rows_of<A>;
    using RB = rows_of<B>;
    if constexpr (!std::is_same_v<RA, RB> && !std::is_same_v<RA, One> && !std::is_same_v<RB, One>) {
      (void)elementwise_operands_must_have_the_same_length<typename A::shape, typename B::shape>{};
      return Invalid{};
    } else {
      using R = std::conditional_t<std::is_same_v<RA, One>, RB, RA>;
      return Expr<Tag, Vec<R>, NoAttr, A, B>{hana::make_tuple(a, b)};
    }
  }
}

template <class A, class B>
constexpr auto times(A a, B b) {
  if constexpr (is_invalid<A> || is_invalid<B>) return Invalid{};
  else if constexpr (is_matrix<A> && is_matrix<B>) {
    (void)a_matmul_multiplies_a_matrix_by_a_vector<typename A::shape, typename B::shape>{};
    return Invalid{};
  } else if constexpr (is_matrix<B>) {
    (void)write_the_matrix_on_the_left_of_a_matmul<typename A::shape, typename B::shape>{};
    return Invalid{};
  } else if constexpr (is_matrix<A>) {
    if constexpr (!std::is_same_v<typename A::shape::cols, rows_of<B>>) {
      (void)matmul_columns_must_equal_the_vector_length<typename A::shape, typename B::shape>{};
      return Invalid{};
    } else {
      return Expr<op::matmul, Vec<typename A::shape::rows>, NoAttr, A, B>{hana::make_tuple(a, b)};
    }
  } else {
    return elementwise<op::mul>(a, b);
  }
}

template <class D>
constexpr auto as_dim(D d) {
  if constexpr (is_dim<D>::value) return d;
  else return size(d);  // a hana integral constant such as 0_c
}

template <class Length, class Offset, class N>
constexpr bool slice_fits() {
  return nonnegative<Offset>() && positive_dim<N> && nonnegative<decltype(Length{} - Offset{} - N{})>();
}

template <class Offset, class N, class A>
constexpr auto slice_of(A a) {
  if constexpr (is_invalid<A>) return Invalid{};
  else if constexpr (is_matrix<A>) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<typename A::shape>{};
    return Invalid{};
  } else if constexpr (!slice_fits<rows_of<A>, Offset, N>()) {
    (void)a_slice_must_lie_inside_its_vector<rows_of<A>, Offset, N>{};
    return Invalid{};
  } else {
    return Expr<op::slice, Vec<N>, Offset, A>{hana::make_tuple(a)};
  }
}

template <class A, std::size_t... I, long long K>
constexpr auto split_parts(A a, std::index_sequence<I...>, std::integral_constant<long long, K>) {
  using Part = divided_dim<rows_of<A>, K>;
  return std::make_tuple(slice_of<decltype(hana::llong_c<static_cast<long long>(I)> * Part{}), Part>(a)...);
}

}  // namespace detail

// --- the operators and functions a cell is written with -------------------------------------------

template <class A, class B>
  requires(Expression<A> || Expression<B>) && (Expression<A> || Number<A>) && (Expression<B> || Number<B>)
constexpr auto operator+(A a, B b) {
  return detail::elementwise<op::add>(detail::as_expr(a), detail::as_expr(b));
}
template <class A, class B>
  requires(Expression<A> || Expression<B>) && (Expression<A> || Number<A>) && (Expression<B> || Number<B>)
constexpr auto operator-(A a, B b) {
  return detail::elementwise<op::sub>(detail::as_expr(a), detail::as_expr(b));
}
/// W * v is a matmul when W is a matrix parameter; otherwise * is elementwise.
template <class A, class B>
  requires(Expression<A> || Expression<B>) && (Expression<A> || Number<A>) && (Expression<B> || Number<B>)
constexpr auto operator*(A a, B b) {
  return detail::times(detail::as_expr(a), detail::as_expr(b));
}
template <class A, class B>
  requires(Expression<A> || Expression<B>) && (Expression<A> || Number<A>) && (Expression<B> || Number<B>)
constexpr auto operator/(A a, B b) {
  return detail::elementwise<op::div>(detail::as_expr(a), detail::as_expr(b));
}
template <Expression A>
constexpr auto operator-(A a) {
  return detail::unary<op::neg>(a);
}

template <Expression A> constexpr auto sigmoid(A a) { return detail::unary<op::sigmoid>(a); }
template <Expression A> constexpr auto tanh(A a) { return detail::unary<op::tanh>(a); }
template <Expression A> constexpr auto relu(A a) { return detail::unary<op::relu>(a); }
template <Expression A> constexpr auto exp(A a) { return detail::unary<op::exp>(a); }
template <Expression A> constexpr auto log(A a) { return detail::unary<op::log>(a); }
template <Expression A> constexpr auto sqrt(A a) { return detail::unary<op::sqrt>(a); }
template <Expression A> constexpr auto rsqrt(A a) { return detail::unary<op::rsqrt>(a); }
/// The value of a, through which no gradient flows.
template <Expression A> constexpr auto stop_gradient(A a) { return detail::unary<op::stop_gradient>(a); }

/// The sum of the features of a row, a value of length 1.
template <Expression A>
constexpr auto sum(A a) {
  if constexpr (is_invalid<A>) return Invalid{};
  else if constexpr (is_matrix<A>) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<typename A::shape>{};
    return Invalid{};
  } else {
    return Expr<op::sum, Vec<One>, NoAttr, A>{hana::make_tuple(a)};
  }
}
/// The mean of the features of a row, a value of length 1 (layer norm).
template <Expression A>
constexpr auto mean(A a) {
  if constexpr (is_invalid<A>) return Invalid{};
  else if constexpr (is_matrix<A>) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<typename A::shape>{};
    return Invalid{};
  } else {
    return Expr<op::mean, Vec<One>, NoAttr, A>{hana::make_tuple(a)};
  }
}

/// The features [offset, offset + n) of a: `slice(z, H, H)`; sizes may be Dims or Hana
/// integral constants (0_c).
template <Expression A, class Offset, class N>
constexpr auto slice(A a, Offset offset, N n) {
  return detail::slice_of<decltype(detail::as_dim(offset)), decltype(detail::as_dim(n))>(a);
}

/// Splits a into K equal parts, returned as a std::tuple for structured bindings:
/// `auto [i, f, g, o] = split<4>(z);`
namespace detail {
// K Invalid parts, so that `auto [a, b] = split<2>(bad)` adds no second error.
template <long long K>
constexpr auto invalid_parts() {
  if constexpr (K <= 0) return std::tuple<>{};
  else return std::tuple_cat(std::tuple<Invalid>{}, invalid_parts<K - 1>());
}
}  // namespace detail

template <long long K, Expression A>
constexpr auto split(A a) {
  if constexpr (K < 2) {
    (void)split_needs_at_least_two_parts<std::integral_constant<long long, K>>{};
    return detail::invalid_parts<K>();
  } else if constexpr (is_invalid<A>) {
    return detail::invalid_parts<K>();
  } else if constexpr (is_matrix<A>) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<typename A::shape>{};
    return detail::invalid_parts<K>();
  } else if constexpr (!divisible<rows_of<A>, K>()) {
    (void)split_length_must_divide_into_equal_parts<rows_of<A>, std::integral_constant<long long, K>>{};
    return detail::invalid_parts<K>();
  } else {
    return detail::split_parts(a, std::make_index_sequence<static_cast<std::size_t>(K)>(),
                               std::integral_constant<long long, K>());
  }
}

/// [a; b; ...], the features of the operands one after the other.
template <Expression... A>
  requires(sizeof...(A) >= 1)
constexpr auto concat(A... a) {
  if constexpr ((is_invalid<A> || ...)) return Invalid{};
  else if constexpr ((is_matrix<A> || ...)) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<hana::tuple<typename A::shape...>>{};
    return Invalid{};
  } else {
    using Rows = canonical_dim<decltype((rows_of<A>{} + ...))>;
    return Expr<op::concat, Vec<Rows>, NoAttr, A...>{hana::make_tuple(a...)};
  }
}

/// Gives a value a name that shows in printed graphs, LLVM IR and gradient-flow reports:
/// `auto i = named("i"_s, sigmoid(zi));` A named sigmoid or tanh counts as a gate for the
/// saturation telemetry.
template <class Name, Expression A>
constexpr auto named(Name, A a) {
  if constexpr (is_invalid<A>) return Invalid{};
  else return Expr<op::named, typename A::shape, Name, A>{hana::make_tuple(a)};
}

}  // namespace cellforge::dsl
