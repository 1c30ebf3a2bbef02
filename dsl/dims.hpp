// Symbolic sizes at compile time.
//
// A size is a type, `Dim<Term<C, Name...>...>`: a linear form over named sizes (X, H, a projection
// size P that the user names) with integer coefficients, plus a constant term (a Term with an empty
// name). The terms are kept sorted by name with no zero coefficients, so two sizes are equal exactly
// when their types are the same, and the compiler prints them readably in error messages:
// `Dim<Term<4, 'H'>>` is 4H, `Dim<Term<1, 'H'>, Term<1, 'X'>>` is H+X.
//
//   using namespace cellforge::dsl;
//   constexpr auto P = dim("P"_s);        // a size the user names
//   auto z = 4_c * H;                     // 4H  (4_c is Hana's integral-constant literal)
//   auto w = X + H;                       // H+X
#pragma once

#ifndef BOOST_HANA_CONFIG_ENABLE_STRING_UDL
#define BOOST_HANA_CONFIG_ENABLE_STRING_UDL
#endif
#include <boost/hana.hpp>
#include <cstddef>
#include <string>
#include <utility>

#include "codegen/ir/dim.hpp"

namespace cellforge::dsl {

namespace hana = boost::hana;
using namespace boost::hana::literals;

/// `C` times the size called `Name...` (one char per template argument); the constant C when the
/// name is empty.
template <long long C, char... Name>
struct Term {
  static constexpr long long coefficient = C;
};

/// A symbolic size: the sum of its terms.
template <class... Terms>
struct Dim {};

namespace detail {

// A value form of a Dim, for the arithmetic (C++20 allows it as a template argument).
struct DimValue {
  struct Entry {
    char name[24] = {};
    int length = 0;
    long long coefficient = 0;
  };
  Entry terms[12] = {};
  int count = 0;
};

constexpr bool name_less(const DimValue::Entry& a, const DimValue::Entry& b) {
  for (int i = 0; i < a.length && i < b.length; ++i)
    if (a.name[i] != b.name[i]) return a.name[i] < b.name[i];
  return a.length < b.length;
}
constexpr bool name_equal(const DimValue::Entry& a, const DimValue::Entry& b) {
  return !name_less(a, b) && !name_less(b, a);
}

// Sorts by name, merges equal names, drops zero coefficients.
constexpr DimValue canonical(DimValue v) {
  for (int i = 1; i < v.count; ++i)
    for (int j = i; j > 0 && name_less(v.terms[j], v.terms[j - 1]); --j) {
      auto t = v.terms[j];
      v.terms[j] = v.terms[j - 1];
      v.terms[j - 1] = t;
    }
  DimValue out;
  for (int i = 0; i < v.count; ++i) {
    if (out.count > 0 && name_equal(out.terms[out.count - 1], v.terms[i]))
      out.terms[out.count - 1].coefficient += v.terms[i].coefficient;
    else
      out.terms[out.count++] = v.terms[i];
  }
  DimValue pruned;
  for (int i = 0; i < out.count; ++i)
    if (out.terms[i].coefficient != 0) pruned.terms[pruned.count++] = out.terms[i];
  return pruned;
}

template <long long C, char... Name>
constexpr DimValue::Entry entry_of(Term<C, Name...>) {
  DimValue::Entry e;
  const char chars[] = {Name..., '\0'};
  e.length = sizeof...(Name);
  for (int i = 0; i < e.length; ++i) e.name[i] = chars[i];
  e.coefficient = C;
  return e;
}

template <class... Terms>
constexpr DimValue value_of(Dim<Terms...>) {
  DimValue v;
  ((v.terms[v.count++] = entry_of(Terms{})), ...);
  return v;
}

template <DimValue V, int I, std::size_t... J>
constexpr auto term_type(std::index_sequence<J...>) {
  return Term<V.terms[I].coefficient, V.terms[I].name[J]...>{};
}
template <DimValue V, std::size_t... I>
constexpr auto dim_type(std::index_sequence<I...>) {
  return Dim<decltype(term_type<V, static_cast<int>(I)>(
      std::make_index_sequence<static_cast<std::size_t>(V.terms[I].length)>()))...>{};
}
// The canonical Dim type of a value. (A struct, not an alias template: g++ 12 crashes on class
// template arguments computed inside alias templates.)
template <DimValue V>
struct FromValue {
  static constexpr DimValue value = canonical(V);
  using type = decltype(dim_type<value>(std::make_index_sequence<static_cast<std::size_t>(value.count)>()));
};

constexpr DimValue add(DimValue a, DimValue b, long long scale_b = 1) {
  for (int i = 0; i < b.count; ++i) {
    a.terms[a.count] = b.terms[i];
    a.terms[a.count++].coefficient *= scale_b;
  }
  return a;
}
constexpr DimValue scale(DimValue a, long long k) {
  for (int i = 0; i < a.count; ++i) a.terms[i].coefficient *= k;
  return a;
}

}  // namespace detail

template <class T>
struct is_dim : std::false_type {};
template <class... Terms>
struct is_dim<Dim<Terms...>> : std::true_type {};

/// The size 1 (a scalar per row) and 0.
using One = Dim<Term<1>>;
using Zero = Dim<>;

/// The input size and the hidden size that every cell may use.
inline constexpr Dim<Term<1, 'X'>> X{};
inline constexpr Dim<Term<1, 'H'>> H{};

/// A size the user names: `constexpr auto P = dim("P"_s);`
template <char... Name>
constexpr Dim<Term<1, Name...>> dim(hana::string<Name...>) {
  static_assert(sizeof...(Name) > 0, "cellforge: a named size needs a name, e.g. dim(\"P\"_s)");
  return {};
}

/// A constant size from a Hana integral constant: `size(4_c)`.
template <class T, T V>
constexpr auto size(hana::integral_constant<T, V>) {
  constexpr long long c = static_cast<long long>(V);
  return typename detail::FromValue<detail::value_of(Dim<Term<c>>{})>::type{};
}

/// The canonical form of any Dim (sorted, merged).
template <class D>
using canonical_dim = typename detail::FromValue<detail::value_of(D{})>::type;

template <class... A, class... B>
constexpr auto operator+(Dim<A...>, Dim<B...>) {
  constexpr auto v = detail::add(detail::value_of(Dim<A...>{}), detail::value_of(Dim<B...>{}));
  return typename detail::FromValue<v>::type{};
}
template <class... A, class... B>
constexpr auto operator-(Dim<A...>, Dim<B...>) {
  constexpr auto v = detail::add(detail::value_of(Dim<A...>{}), detail::value_of(Dim<B...>{}), -1);
  return typename detail::FromValue<v>::type{};
}
template <class T, T K, class... A>
constexpr auto operator*(hana::integral_constant<T, K>, Dim<A...>) {
  constexpr auto v = detail::scale(detail::value_of(Dim<A...>{}), static_cast<long long>(K));
  return typename detail::FromValue<v>::type{};
}
template <class T, T K, class... A>
constexpr auto operator*(Dim<A...> d, hana::integral_constant<T, K> k) {
  return k * d;
}

/// True when D >= 0 for any sizes, given that every named size is >= 1: every coefficient of a
/// named size is >= 0 and the value with all sizes 1 is >= 0 (so H - 1 >= 0, but H - X may not be).
template <class D>
constexpr bool nonnegative() {
  constexpr auto v = detail::value_of(canonical_dim<D>{});
  long long at_ones = 0;
  for (int i = 0; i < v.count; ++i) {
    if (v.terms[i].length > 0 && v.terms[i].coefficient < 0) return false;
    at_ones += v.terms[i].coefficient;
  }
  return at_ones >= 0;
}

/// True when D divides by k term by term.
template <class D, long long K>
constexpr bool divisible() {
  constexpr auto v = detail::value_of(canonical_dim<D>{});
  for (int i = 0; i < v.count; ++i)
    if (v.terms[i].coefficient % K != 0) return false;
  return true;
}

/// D / K (only valid when divisible<D, K>()).
namespace detail {
template <class D, long long K>
constexpr DimValue divided_value() {
  auto v = value_of(D{});
  for (int i = 0; i < v.count; ++i) v.terms[i].coefficient /= K;
  return v;
}
}  // namespace detail
template <class D, long long K>
using divided_dim = typename detail::FromValue<detail::divided_value<D, K>()>::type;

namespace detail {
template <long long C, char... Name>
ir::Dim to_ir_term(Term<C, Name...>) {
  if constexpr (sizeof...(Name) == 0) return ir::Dim::constant(C);
  else return ir::Dim::named(std::string{Name...}) * C;
}
}  // namespace detail

/// The runtime form of a compile-time size.
template <class... Terms>
ir::Dim to_ir(Dim<Terms...>) {
  return (ir::Dim() + ... + detail::to_ir_term(Terms{}));
}

}  // namespace cellforge::dsl
