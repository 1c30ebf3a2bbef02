// A cell: the results of one step, `next(h, h_new)` for each state and one `output(y)`, checked at
// compile time as a whole, and reify(), the single bridge from the DSL's types to the runtime IR.
//
//   auto x = input("x"_s, X);
//   auto h = state("h"_s, H);
//   auto W = param("W"_s, H, X);
//   auto U = param("U"_s, H, H);
//   auto b = param("b"_s, H);
//   auto h_next = named("h_next"_s, tanh(W * x + U * h + b));
//   auto rnn = cell("rnn"_s, next(h, h_next), output(h_next));
//   ir::Graph graph = reify(rnn);
#pragma once

#include <string>
#include <tuple>

#include "codegen/ir/graph.hpp"
#include "codegen/ir/verify.hpp"
#include "dsl/expr.hpp"

namespace cellforge::dsl {

template <class StateLeaf, class E>
struct NextBinding {
  E value;
};
template <class Name, class E>
struct OutputBinding {
  using name = Name;
  E value;
};

template <class Name, class... Bindings>
struct Cell {
  hana::tuple<Bindings...> bindings;
};

// --- the rules of next(), output() and cell() ------------------------------------------------------

template <class NotAState>
struct next_needs_a_state_as_its_first_argument {
  static_assert(always_false<NotAState>,
                "cellforge: next(s, value) gives the next value of a state; its first argument must be a state "
                "declared with state(\"name\"_s, size)");
};
template <class StateShape, class ValueShape>
struct a_state_must_be_returned_with_the_shape_it_came_in {
  static_assert(always_false<StateShape>,
                "cellforge: next(s, value) needs value to have the shape of the state s (the two shapes are the "
                "template arguments of this helper)");
};
template <class StateName>
struct every_state_the_cell_reads_needs_a_next {
  static_assert(always_false<StateName>,
                "cellforge: the cell reads a state but gives no next value for it; add next(state, value) to "
                "cell(...) (the state's name is the template argument of this helper)");
};
template <class StateName>
struct a_state_has_exactly_one_next {
  static_assert(always_false<StateName>, "cellforge: cell(...) gives two next values for the same state");
};
template <class StateName>
struct the_cell_never_reads_its_state {
  static_assert(always_false<StateName>,
                "cellforge: the cell gives a next value for a state that no result reads; it is not recurrent. "
                "Read the state or remove it");
};
template <class NumberOfOutputs>
struct a_cell_has_exactly_one_output {
  static_assert(always_false<NumberOfOutputs>,
                "cellforge: cell(...) needs exactly one output(value) (the number given is the template argument "
                "of this helper)");
};
template <class LeafA, class LeafB>
struct one_name_one_leaf {
  static_assert(always_false<LeafA>,
                "cellforge: two different inputs, states or parameters share a name; give each its own name");
};
template <class NotABinding>
struct cell_takes_next_and_output_results {
  static_assert(always_false<NotABinding>, "cellforge: the arguments of cell(name, ...) after the name are next(...) "
                                           "and output(...) results");
};

/// The next value of state s after this step.
template <class S, Expression E>
constexpr auto next(S, E value) {
  if constexpr (is_invalid<S> || is_invalid<E>) return Invalid{};
  else if constexpr (!Expression<S> || !std::is_same_v<typename S::kind, state_kind>) {
    (void)next_needs_a_state_as_its_first_argument<S>{};
    return Invalid{};
  } else if constexpr (!std::is_same_v<typename S::shape, typename E::shape>) {
    (void)a_state_must_be_returned_with_the_shape_it_came_in<typename S::shape, typename E::shape>{};
    return Invalid{};
  } else {
    return NextBinding<S, E>{value};
  }
}
/// The output of the cell (fed to the next layer and to the loss), named y unless named.
template <Expression E>
constexpr auto output(E value) {
  if constexpr (is_invalid<E>) return Invalid{};
  else if constexpr (is_matrix<E>) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<typename E::shape>{};
    return Invalid{};
  } else {
    return OutputBinding<decltype("y"_s), E>{value};
  }
}
template <class Name, Expression E>
constexpr auto output(Name, E value) {
  if constexpr (is_invalid<E>) return Invalid{};
  else if constexpr (is_matrix<E>) {
    (void)a_matrix_parameter_can_only_be_used_in_a_matmul<typename E::shape>{};
    return Invalid{};
  } else {
    return OutputBinding<Name, E>{value};
  }
}

namespace detail {

// The leaves of an expression type, as a hana tuple of hana::type (with repeats).
template <class K, class N, class S>
constexpr auto leaf_types(hana::basic_type<Leaf<K, N, S>>) {
  return hana::tuple_t<Leaf<K, N, S>>;
}
template <class T, class S, class A, class... Args>
constexpr auto leaf_types(hana::basic_type<Expr<T, S, A, Args...>>) {
  return hana::flatten(hana::make_tuple(hana::tuple<>{}, leaf_types(hana::type_c<Args>)...));
}
constexpr auto leaf_types(hana::basic_type<Invalid>) { return hana::tuple<>{}; }

template <class B>
struct binding_traits {
  static constexpr bool is_next = false, is_output = false, valid = false;
};
template <class S, class E>
struct binding_traits<NextBinding<S, E>> {
  static constexpr bool is_next = true, is_output = false, valid = true;
  using expr = E;
  using state = S;
};
template <class N, class E>
struct binding_traits<OutputBinding<N, E>> {
  static constexpr bool is_next = false, is_output = true, valid = true;
  using expr = E;
};
template <>
struct binding_traits<Invalid> {
  static constexpr bool is_next = false, is_output = false, valid = true;
  using expr = Invalid;
};

template <class A, class B>
constexpr bool same_name = std::is_same_v<typename A::name, typename B::name>;

template <class... Bindings>
constexpr bool check_cell() {
  if constexpr ((std::is_same_v<Bindings, Invalid> || ...)) {
    return false;
  } else {
    constexpr bool all_valid = (binding_traits<Bindings>::valid && ...);
    if constexpr (!all_valid) {
      hana::for_each(hana::tuple_t<Bindings...>, [](auto b) {
        using B = typename decltype(b)::type;
        if constexpr (!binding_traits<B>::valid) (void)cell_takes_next_and_output_results<B>{};
      });
      return false;
    } else {
      constexpr std::size_t outputs = (std::size_t{binding_traits<Bindings>::is_output} + ...);
      if constexpr (outputs != 1) (void)a_cell_has_exactly_one_output<std::integral_constant<std::size_t, outputs>>{};
      constexpr auto leaves = hana::flatten(
          hana::make_tuple(hana::tuple<>{}, leaf_types(hana::type_c<typename binding_traits<Bindings>::expr>)...));
      constexpr auto nexts = hana::flatten(hana::make_tuple(hana::tuple<>{}, [] {
        if constexpr (binding_traits<Bindings>::is_next) return hana::tuple_t<typename binding_traits<Bindings>::state>;
        else return hana::tuple<>{};
      }()...));
      // Every state read has exactly one next.
      hana::for_each(leaves, [&](auto leaf) {
        using L = typename std::remove_cvref_t<decltype(leaf)>::type;
        if constexpr (std::is_same_v<typename L::kind, state_kind>) {
          constexpr auto count = hana::count_if(nexts, [](auto s) {
            return hana::bool_c<same_name<typename std::remove_cvref_t<decltype(s)>::type, L>>;
          });
          if constexpr (decltype(count)::value == 0) (void)every_state_the_cell_reads_needs_a_next<typename L::name>{};
        }
      });
      hana::for_each(nexts, [&](auto s) {
        using S = typename std::remove_cvref_t<decltype(s)>::type;
        constexpr auto count = hana::count_if(nexts, [](auto t) {
          return hana::bool_c<same_name<typename std::remove_cvref_t<decltype(t)>::type, S>>;
        });
        if constexpr (decltype(count)::value > 1) (void)a_state_has_exactly_one_next<typename S::name>{};
        constexpr auto reads = hana::count_if(leaves, [](auto l) {
          return hana::bool_c<std::is_same_v<typename std::remove_cvref_t<decltype(l)>::type, S>>;
        });
        if constexpr (decltype(reads)::value == 0) (void)the_cell_never_reads_its_state<typename S::name>{};
      });
      // One name, one leaf: each clashing pair of distinct leaves is reported once.
      constexpr auto distinct = hana::to_tuple(hana::to_set(leaves));
      constexpr auto count = hana::length(distinct);
      hana::for_each(hana::make_range(hana::size_c<0>, count), [&](auto i) {
        using A = typename std::remove_cvref_t<decltype(hana::at(distinct, i))>::type;
        hana::for_each(hana::make_range(i + hana::size_c<1>, count), [&](auto j) {
          using B = typename std::remove_cvref_t<decltype(hana::at(distinct, j))>::type;
          if constexpr (same_name<A, B>) (void)one_name_one_leaf<A, B>{};
        });
      });
      return outputs == 1;
    }
  }
}

}  // namespace detail

/// A cell: its name and its results, `next(...)` for each state and one `output(...)`.
template <char... Name, class... Bindings>
constexpr auto cell(hana::string<Name...>, Bindings... bindings) {
  detail::check_cell<Bindings...>();
  return Cell<hana::string<Name...>, Bindings...>{hana::make_tuple(bindings...)};
}

// --- reify: types to the runtime IR -----------------------------------------------------------------

namespace detail {

template <class Name>
std::string name_of() {
  return hana::to<const char*>(Name{});
}

template <class K, class N, class S>
ir::NodeId build(ir::Graph& g, const Leaf<K, N, S>&) {
  std::string name = name_of<N>();
  if constexpr (std::is_same_v<K, input_kind>) return g.input(name, to_ir(typename S::rows{}));
  else if constexpr (std::is_same_v<K, state_kind>) return g.state(name, to_ir(typename S::rows{}));
  else if constexpr (is_matrix_shape<S>::value) return g.param(name, to_ir(typename S::rows{}), to_ir(typename S::cols{}));
  else return g.param(name, to_ir(typename S::rows{}));
}

template <class T, class S, class A, class... Args>
ir::NodeId build(ir::Graph& g, const Expr<T, S, A, Args...>& e) {
  if constexpr (std::is_same_v<T, op::constant>) {
    return g.constant(e.value);
  } else {
    std::vector<ir::NodeId> args;
    hana::for_each(e.args, [&](const auto& arg) { args.push_back(build(g, arg)); });
    if constexpr (std::is_same_v<T, op::named>) {
      g.set_label(args[0], name_of<A>());
      return args[0];
    } else if constexpr (std::is_same_v<T, op::slice>) {
      return g.slice(args[0], to_ir(A{}), to_ir(typename S::rows{}));
    } else if constexpr (std::is_same_v<T, op::concat>) {
      return g.concat(args);
    } else if constexpr (std::is_same_v<T, op::matmul>) {
      return g.matmul(args[0], args[1]);
    } else if constexpr (std::is_same_v<T, op::sum> || std::is_same_v<T, op::mean>) {
      return g.reduce(T::ir, args[0]);
    } else if constexpr (sizeof...(Args) == 1) {
      return g.unary(T::ir, args[0]);
    } else {
      return g.binary(T::ir, args[0], args[1]);
    }
  }
}

}  // namespace detail

/// The runtime step graph of a cell. Leaves are declared in a fixed order: inputs in the order the
/// results first use them, then states in the order of their next(), then parameters in the order
/// the results first use them.
template <class Name, class... Bindings>
ir::Graph reify(const Cell<Name, Bindings...>& c) {
  ir::Graph g(detail::name_of<Name>());
  constexpr auto leaves = hana::flatten(
      hana::make_tuple(hana::tuple<>{}, detail::leaf_types(hana::type_c<typename detail::binding_traits<Bindings>::expr>)...));
  auto declare = [&](auto kind) {
    hana::for_each(leaves, [&](auto leaf) {
      using L = typename decltype(leaf)::type;
      if constexpr (std::is_same_v<typename L::kind, typename std::remove_cvref_t<decltype(kind)>::type>)
        detail::build(g, L{});
    });
  };
  declare(hana::type_c<input_kind>);
  hana::for_each(c.bindings, [&](const auto& b) {
    using B = std::remove_cvref_t<decltype(b)>;
    if constexpr (detail::binding_traits<B>::is_next) detail::build(g, typename detail::binding_traits<B>::state{});
  });
  declare(hana::type_c<param_kind>);
  hana::for_each(c.bindings, [&](const auto& b) {
    using B = std::remove_cvref_t<decltype(b)>;
    if constexpr (detail::binding_traits<B>::is_next) {
      g.add_output(ir::Role::next, detail::name_of<typename detail::binding_traits<B>::state::name>(),
                   detail::build(g, b.value));
    } else if constexpr (detail::binding_traits<B>::is_output) {
      g.add_output(ir::Role::output, detail::name_of<typename B::name>(), detail::build(g, b.value));
    }
  });
  ir::verify_cell(g);
  return g;
}

}  // namespace cellforge::dsl
