// onednn_rnn.cpp — times the RNN part of one training step with oneDNN 2.6's RNN primitives.
//
// What it measures: forward (prop_kind::forward_training, keeping the workspace) followed by the
// backward pass of a stack of L unidirectional layers, float32, for one of the cells
//   rnn          vanilla RNN, h_t = tanh(W x_t + U h_{t-1} + b)
//   lstm         LSTM without peepholes (gate order i, f, c~, o — the same as PyTorch's i, f, g, o)
//   gru          linear-before-reset GRU (oneDNN lbr_gru) — the form of PyTorch's nn.GRU
//   gru_classic  oneDNN's original GRU, o_t = tanh(W_o x + U_o (r_t * h_{t-1}) + b_o)
// and prints one JSON object per line on stdout (see print_json). The backward computes the
// gradients of all weights and biases, of the input sequence and of the initial states.
// Why: oneDNN is the fastest CPU library for the cells it supports; it is the bar cellforge's
// generated code is compared with (see /work/shared/research/perf-peers.md).
//
// Build (done by run_peers.sh):
//   g++ -O2 -std=c++17 -fopenmp bench/peers/onednn_rnn.cpp -o build/peers/onednn_rnn -ldnnl
// Run (threads come from OMP_NUM_THREADS; Debian's oneDNN uses OpenMP):
//   OMP_NUM_THREADS=2 build/peers/onednn_rnn --cell lstm --T 50 --B 32 --X 256 --H 256 --L 2
//       --reps 20 --warmup 3
//
// Timed region of one repetition (ms_all), split into fwd_ms and bwd_ms:
//   fwd: reorder the user (plain ldigo) weights into the layout the forward primitive chose, if it
//        differs (after an optimizer update they must be re-laid out every step), then run the
//        forward of every segment;
//   bwd: zero the weight gradients (oneDNN 2.6 *accumulates* into them and has no overwrite flag),
//        reorder the weights into the backward primitive's layout if it differs, run the backward
//        of every segment in reverse order, reorder the gradients to the user layout if needed.
// Traps handled (perf-peers.md): the stacked primitive requires X == H when L > 1, so for L > 1
// with X != H the first layer is a primitive of its own ("segment" 0) and layers 2..L are a second,
// stacked primitive whose input is the first one's output.
//
// Check mode (--check DIR, used by torch_rnn.py --check-onednn): instead of timing, read the input,
// initial states, upstream gradient dy and per-layer weights as raw little-endian float32 files in
// oneDNN's user layouts from DIR, run one forward + backward, and write the output and all
// gradients back to DIR (file names in run_check). The Python side maps PyTorch's gate orders and
// compares.
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------
struct Options {
    std::string cell = "lstm";
    long T = 50, B = 32, X = 256, H = 256, L = 1;
    int reps = 20, warmup = 3;
    std::string check_dir;  // non-empty: numerical check mode
    bool verbose = false;   // print the chosen weight layouts to stderr
};

[[noreturn]] void usage(const char* msg) {
    std::fprintf(stderr,
                 "onednn_rnn: %s\nusage: onednn_rnn --cell rnn|lstm|gru|gru_classic --T N --B N "
                 "--X N --H N --L N [--reps N] [--warmup N] [--check DIR] [--verbose]\n",
                 msg);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--verbose") { o.verbose = true; continue; }
        if (i + 1 >= argc) usage(("missing value for " + a).c_str());
        std::string v = argv[++i];
        try {
            if (a == "--cell") o.cell = v;
            else if (a == "--T") o.T = std::stol(v);
            else if (a == "--B") o.B = std::stol(v);
            else if (a == "--X") o.X = std::stol(v);
            else if (a == "--H") o.H = std::stol(v);
            else if (a == "--L") o.L = std::stol(v);
            else if (a == "--reps") o.reps = std::stoi(v);
            else if (a == "--warmup") o.warmup = std::stoi(v);
            else if (a == "--check") o.check_dir = v;
            else usage(("unknown argument " + a).c_str());
        } catch (const std::logic_error&) { usage(("bad number for " + a).c_str()); }
    }
    if (o.T < 1 || o.B < 1 || o.X < 1 || o.H < 1 || o.L < 1 || o.reps < 1 || o.warmup < 0)
        usage("sizes and --reps must be >= 1, --warmup >= 0");
    return o;
}

// ---------------------------------------------------------------------------------------------
// Cells: which oneDNN algorithm, how many gates G, how many bias rows
// ---------------------------------------------------------------------------------------------
struct Cell {
    algorithm alg;
    long gates, bias_rows;
    bool has_c;  // LSTM carries a cell state c next to h
};

Cell cell_of(const std::string& name) {
    if (name == "rnn") return {algorithm::vanilla_rnn, 1, 1, false};
    if (name == "lstm") return {algorithm::vanilla_lstm, 4, 4, true};
    if (name == "gru") return {algorithm::lbr_gru, 3, 4, false};  // biases u, r, o, u'
    if (name == "gru_classic") return {algorithm::vanilla_gru, 3, 3, false};
    usage(("unknown cell " + name).c_str());
}

// ---------------------------------------------------------------------------------------------
// One oneDNN RNN primitive pair (forward_training + backward) over `layers` stacked layers
// ---------------------------------------------------------------------------------------------
memory::desc plain(memory::dims d, tag t) { return memory::desc(d, dt::f32, t); }
memory::desc any(memory::dims d) { return memory::desc(d, dt::f32, tag::any); }
memory::desc md_of(const primitive_desc& pd, int arg) {
    return pd.query_md(query::exec_arg_md, arg);
}

// Creates the forward-training and backward primitive descriptors for `cell`. Weights and weight
// gradients are `any` (oneDNN picks its preferred layouts); data tensors are plain.
std::pair<primitive_desc, primitive_desc> make_pds(const Cell& c, const engine& eng, long T,
                                                    long B, long in, long H, long layers) {
    const auto dir = rnn_direction::unidirectional_left2right;
    const memory::desc src_layer = plain({T, B, in}, tag::tnc);
    const memory::desc state = plain({layers, 1, B, H}, tag::ldnc);  // h0 (and c0 for LSTM)
    const memory::desc wl = any({layers, 1, in, c.gates, H});
    const memory::desc wi = any({layers, 1, H, c.gates, H});
    const memory::desc bias = plain({layers, 1, c.bias_rows, H}, tag::ldgo);
    const memory::desc dst_layer = plain({T, B, H}, tag::tnc);
    const memory::desc none;  // final states are not needed: the loss reads only y = dst_layer
    const auto fwd = prop_kind::forward_training;
    const auto bwd = prop_kind::backward;

    switch (c.alg) {
    case algorithm::vanilla_rnn: {
        const auto act = algorithm::eltwise_tanh;
        vanilla_rnn_forward::primitive_desc f(
            {fwd, act, dir, src_layer, state, wl, wi, bias, dst_layer, none}, eng);
        vanilla_rnn_backward::primitive_desc b(
            {bwd, act, dir, src_layer, state, wl, wi, bias, dst_layer, none, src_layer, state, wl,
             wi, bias, dst_layer, none},
            eng, f);
        return {f, b};
    }
    case algorithm::vanilla_lstm: {
        lstm_forward::primitive_desc f(
            {fwd, dir, src_layer, state, state, wl, wi, bias, dst_layer, none, none}, eng);
        lstm_backward::primitive_desc b(
            {bwd, dir, src_layer, state, state, wl, wi, bias, dst_layer, none, none, src_layer,
             state, state, wl, wi, bias, dst_layer, none, none},
            eng, f);
        return {f, b};
    }
    case algorithm::lbr_gru: {
        lbr_gru_forward::primitive_desc f(
            {fwd, dir, src_layer, state, wl, wi, bias, dst_layer, none}, eng);
        lbr_gru_backward::primitive_desc b(
            {bwd, dir, src_layer, state, wl, wi, bias, dst_layer, none, src_layer, state, wl, wi,
             bias, dst_layer, none},
            eng, f);
        return {f, b};
    }
    default: {  // vanilla_gru
        gru_forward::primitive_desc f({fwd, dir, src_layer, state, wl, wi, bias, dst_layer, none},
                                      eng);
        gru_backward::primitive_desc b(
            {bwd, dir, src_layer, state, wl, wi, bias, dst_layer, none, src_layer, state, wl, wi,
             bias, dst_layer, none},
            eng, f);
        return {f, b};
    }
    }
}

// A tensor in the user's plain layout plus, if the primitive wants another layout, a copy in it.
struct Laid {
    memory user, prim;  // the same memory when the layouts agree
};

Laid laid(const memory::desc& user_md, const memory::desc& prim_md, const engine& eng) {
    memory u(user_md, eng);
    return {u, prim_md == user_md ? u : memory(prim_md, eng)};
}

// "strides 266240:266240:1040:256:1 (2080 KiB)" and the like, for --verbose.
std::string describe(const memory::desc& md) {
    const dnnl_memory_desc_t& d = md.data;
    if (d.format_kind == dnnl_format_kind_rnn_packed) return "rnn_packed";
    if (d.format_kind != dnnl_blocked) return "kind " + std::to_string(int(d.format_kind));
    std::string r = "strides";
    for (int i = 0; i < d.ndims; ++i)
        r += (i ? ":" : " ") + std::to_string(d.format_desc.blocking.strides[i]);
    if (d.extra.flags) r += " extra-flags " + std::to_string(d.extra.flags);
    return r + " (" + std::to_string(md.get_size() / 1024) + " KiB)";
}

// A layout change executed inside the timed region (created once, outside it).
struct Copy {
    reorder r;
    memory from, to;
};

void add_copy(std::vector<Copy>& v, const memory& from, const memory& to) {
    if (from.get_data_handle() != to.get_data_handle()) v.push_back({reorder(from, to), from, to});
}

struct Segment {
    long layers = 0, in = 0;
    primitive fwd, bwd;
    memory src_layer, h0, c0, dst_layer, workspace;    // dst_layer feeds the next segment
    memory d_src_layer, d_h0, d_c0, d_dst_layer;       // gradients of the above
    Laid wl_f, wi_f;                                    // weights for the forward primitive
    memory wl_b, wi_b;                                  // weights in the backward's layout
    memory bias;
    Laid dwl, dwi;                                      // weight gradients (user, primitive)
    memory dbias;
    std::vector<Copy> before_fwd, before_bwd, after_bwd;  // weight / gradient re-layouts
};

memory reuse_or_new(const memory::desc& md, const Laid& l, const engine& eng) {
    return md == l.prim.get_desc() ? l.prim : md == l.user.get_desc() ? l.user : memory(md, eng);
}

// Builds segment memories; `src_layer` / `d_dst_layer` may be shared with a neighbour segment.
Segment make_segment(const Cell& c, const engine& eng, const Options& o, long layers, long in,
                     memory src_layer, memory d_src_layer) {
    Segment s;
    s.layers = layers;
    s.in = in;
    auto [fpd, bpd] = make_pds(c, eng, o.T, o.B, in, o.H, layers);
    s.fwd = primitive(fpd);
    s.bwd = primitive(bpd);
    const memory::desc state = plain({layers, 1, o.B, o.H}, tag::ldnc);
    s.src_layer = src_layer;
    s.d_src_layer = d_src_layer;
    s.h0 = memory(state, eng);
    s.d_h0 = memory(state, eng);
    if (c.has_c) {
        s.c0 = memory(state, eng);
        s.d_c0 = memory(state, eng);
    }
    s.dst_layer = memory(md_of(fpd, DNNL_ARG_DST_LAYER), eng);
    s.d_dst_layer = memory(md_of(bpd, DNNL_ARG_DIFF_DST_LAYER), eng);
    s.workspace = memory(fpd.query_md(query::workspace_md), eng);
    s.wl_f = laid(plain({layers, 1, in, c.gates, o.H}, tag::ldigo),
                  md_of(fpd, DNNL_ARG_WEIGHTS_LAYER), eng);
    s.wi_f = laid(plain({layers, 1, o.H, c.gates, o.H}, tag::ldigo),
                  md_of(fpd, DNNL_ARG_WEIGHTS_ITER), eng);
    s.wl_b = reuse_or_new(md_of(bpd, DNNL_ARG_WEIGHTS_LAYER), s.wl_f, eng);
    s.wi_b = reuse_or_new(md_of(bpd, DNNL_ARG_WEIGHTS_ITER), s.wi_f, eng);
    s.bias = memory(md_of(fpd, DNNL_ARG_BIAS), eng);
    s.dwl = laid(s.wl_f.user.get_desc(), md_of(bpd, DNNL_ARG_DIFF_WEIGHTS_LAYER), eng);
    s.dwi = laid(s.wi_f.user.get_desc(), md_of(bpd, DNNL_ARG_DIFF_WEIGHTS_ITER), eng);
    s.dbias = memory(md_of(bpd, DNNL_ARG_DIFF_BIAS), eng);
    add_copy(s.before_fwd, s.wl_f.user, s.wl_f.prim);
    add_copy(s.before_fwd, s.wi_f.user, s.wi_f.prim);
    add_copy(s.before_bwd, s.wl_f.user, s.wl_b);
    add_copy(s.before_bwd, s.wi_f.user, s.wi_b);
    add_copy(s.after_bwd, s.dwl.prim, s.dwl.user);
    add_copy(s.after_bwd, s.dwi.prim, s.dwi.user);
    if (o.verbose)
        std::fprintf(stderr,
                     "segment layers=%ld in=%ld: user weights %s\n  fwd weights %s\n"
                     "  bwd weights %s\n  weight grads %s\n  workspace %.1f MiB\n",
                     layers, in, describe(s.wl_f.user.get_desc()).c_str(),
                     describe(s.wl_f.prim.get_desc()).c_str(),
                     describe(s.wl_b.get_desc()).c_str(), describe(s.dwl.prim.get_desc()).c_str(),
                     s.workspace.get_desc().get_size() / 1048576.0);
    return s;
}

// Layer 0 alone when L > 1 and X != H (the stacked primitive needs equal widths), else all L
// layers in one primitive; then layers 1..L-1 stacked with input width H.
std::vector<Segment> make_segments(const Cell& c, const engine& eng, const Options& o) {
    std::vector<Segment> segs;
    const long first = (o.L > 1 && o.X != o.H) ? 1 : o.L;
    const memory::desc x_md = plain({o.T, o.B, o.X}, tag::tnc);
    segs.push_back(make_segment(c, eng, o, first, o.X, memory(x_md, eng), memory(x_md, eng)));
    if (first < o.L) {  // its input is segment 0's output; its input gradient is segment 0's dy
        const memory y0 = segs[0].dst_layer, dy0 = segs[0].d_dst_layer;
        segs.push_back(make_segment(c, eng, o, o.L - first, o.H, y0, dy0));
    }
    return segs;
}

// ---------------------------------------------------------------------------------------------
// One training step's RNN part
// ---------------------------------------------------------------------------------------------
void run_copies(stream& st, std::vector<Copy>& v) {
    for (Copy& c : v) c.r.execute(st, c.from, c.to);
}

void zero(const memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

void forward(stream& st, std::vector<Segment>& segs) {
    for (Segment& s : segs) {
        run_copies(st, s.before_fwd);
        std::unordered_map<int, memory> args = {
            {DNNL_ARG_SRC_LAYER, s.src_layer}, {DNNL_ARG_SRC_ITER, s.h0},
            {DNNL_ARG_WEIGHTS_LAYER, s.wl_f.prim}, {DNNL_ARG_WEIGHTS_ITER, s.wi_f.prim},
            {DNNL_ARG_BIAS, s.bias}, {DNNL_ARG_DST_LAYER, s.dst_layer},
            {DNNL_ARG_WORKSPACE, s.workspace}};
        if (s.c0) args[DNNL_ARG_SRC_ITER_C] = s.c0;
        s.fwd.execute(st, args);
    }
    st.wait();
}

void backward(stream& st, std::vector<Segment>& segs) {
    for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        Segment& s = *it;
        zero(s.dwl.prim);  // oneDNN 2.6 accumulates weight gradients
        zero(s.dwi.prim);
        zero(s.dbias);
        run_copies(st, s.before_bwd);
        std::unordered_map<int, memory> args = {
            {DNNL_ARG_SRC_LAYER, s.src_layer}, {DNNL_ARG_SRC_ITER, s.h0},
            {DNNL_ARG_WEIGHTS_LAYER, s.wl_b}, {DNNL_ARG_WEIGHTS_ITER, s.wi_b},
            {DNNL_ARG_BIAS, s.bias}, {DNNL_ARG_DST_LAYER, s.dst_layer},
            {DNNL_ARG_WORKSPACE, s.workspace},
            {DNNL_ARG_DIFF_SRC_LAYER, s.d_src_layer}, {DNNL_ARG_DIFF_SRC_ITER, s.d_h0},
            {DNNL_ARG_DIFF_WEIGHTS_LAYER, s.dwl.prim}, {DNNL_ARG_DIFF_WEIGHTS_ITER, s.dwi.prim},
            {DNNL_ARG_DIFF_BIAS, s.dbias}, {DNNL_ARG_DIFF_DST_LAYER, s.d_dst_layer}};
        if (s.c0) {
            args[DNNL_ARG_SRC_ITER_C] = s.c0;
            args[DNNL_ARG_DIFF_SRC_ITER_C] = s.d_c0;
        }
        s.bwd.execute(st, args);
        run_copies(st, s.after_bwd);
    }
    st.wait();
}

// ---------------------------------------------------------------------------------------------
// Data helpers
// ---------------------------------------------------------------------------------------------
float* f32(const memory& m) { return static_cast<float*>(m.get_data_handle()); }
size_t count(const memory& m) { return m.get_desc().get_size() / sizeof(float); }

void fill_uniform(const memory& m, float bound, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-bound, bound);
    float* p = f32(m);
    for (size_t i = 0, n = count(m); i < n; ++i) p[i] = u(rng);
}

bool all_finite(const memory& m) {
    const float* p = f32(m);
    for (size_t i = 0, n = count(m); i < n; ++i)
        if (!std::isfinite(p[i])) return false;
    return true;
}

void read_f32(const std::string& path, float* dst, size_t n) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open " + path);
    const size_t got = std::fread(dst, sizeof(float), n, f);
    std::fclose(f);
    if (got != n) throw std::runtime_error(path + ": expected " + std::to_string(n) + " floats");
}

void write_f32(const std::string& path, const float* src, size_t n) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(src, sizeof(float), n, f) != n)
        throw std::runtime_error("cannot write " + path);
    std::fclose(f);
}

// ---------------------------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------------------------
// Check mode. Files in DIR (float32, row-major):
//   in : x (T,B,X)  h0 (L,B,H)  [c0 (L,B,H)]  dy (T,B,H)
//        wx<l> (in_l,G,H)  wh<l> (H,G,H)  b<l> (bias_rows,H)       for layer l = 0..L-1
//   out: y (T,B,H)  dx (T,B,X)  dh0 (L,B,H)  [dc0 (L,B,H)]
//        dwx<l> (in_l,G,H)  dwh<l> (H,G,H)  db<l> (bias_rows,H)
int run_check(const Options& o, const Cell& c, stream& st, std::vector<Segment>& segs) {
    const std::string d = o.check_dir + "/";
    const long BH = o.B * o.H;
    read_f32(d + "x", f32(segs[0].src_layer), count(segs[0].src_layer));
    read_f32(d + "dy", f32(segs.back().d_dst_layer), count(segs.back().d_dst_layer));
    std::vector<float> h0(o.L * BH), c0(o.L * BH);
    read_f32(d + "h0", h0.data(), h0.size());
    if (c.has_c) read_f32(d + "c0", c0.data(), c0.size());
    long l = 0;  // global layer index of the segment's first layer
    for (Segment& s : segs) {
        std::copy_n(h0.data() + l * BH, s.layers * BH, f32(s.h0));
        if (c.has_c) std::copy_n(c0.data() + l * BH, s.layers * BH, f32(s.c0));
        const long nwx = s.in * c.gates * o.H, nwh = o.H * c.gates * o.H, nb = c.bias_rows * o.H;
        for (long k = 0; k < s.layers; ++k) {
            const std::string n = std::to_string(l + k);
            read_f32(d + "wx" + n, f32(s.wl_f.user) + k * nwx, nwx);
            read_f32(d + "wh" + n, f32(s.wi_f.user) + k * nwh, nwh);
            read_f32(d + "b" + n, f32(s.bias) + k * nb, nb);
        }
        l += s.layers;
    }
    forward(st, segs);
    backward(st, segs);
    write_f32(d + "y", f32(segs.back().dst_layer), count(segs.back().dst_layer));
    write_f32(d + "dx", f32(segs[0].d_src_layer), count(segs[0].d_src_layer));
    l = 0;
    for (Segment& s : segs) {
        std::copy_n(f32(s.d_h0), s.layers * BH, h0.data() + l * BH);
        if (c.has_c) std::copy_n(f32(s.d_c0), s.layers * BH, c0.data() + l * BH);
        const long nwx = s.in * c.gates * o.H, nwh = o.H * c.gates * o.H, nb = c.bias_rows * o.H;
        for (long k = 0; k < s.layers; ++k) {
            const std::string n = std::to_string(l + k);
            write_f32(d + "dwx" + n, f32(s.dwl.user) + k * nwx, nwx);
            write_f32(d + "dwh" + n, f32(s.dwi.user) + k * nwh, nwh);
            write_f32(d + "db" + n, f32(s.dbias) + k * nb, nb);
        }
        l += s.layers;
    }
    write_f32(d + "dh0", h0.data(), h0.size());
    if (c.has_c) write_f32(d + "dc0", c0.data(), c0.size());
    std::printf("{\"peer\":\"onednn\",\"check\":\"%s\",\"segments\":%zu}\n", o.check_dir.c_str(),
                segs.size());
    return 0;
}

// The instruction set oneDNN's kernels use (capped by ONEDNN_MAX_CPU_ISA, e.g. AVX2).
const char* isa_name() {
    switch (get_effective_cpu_isa()) {
    case cpu_isa::sse41: return "sse41";
    case cpu_isa::avx: return "avx";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx2_vnni: return "avx2_vnni";
    case cpu_isa::avx512_core: return "avx512_core";
    case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run_timing(const Options& o, const Cell& c, stream& st, std::vector<Segment>& segs) {
    // PyTorch-like initialisation: weights and biases U(-1/sqrt(H), 1/sqrt(H)); x, h0, c0, dy U(-1,1).
    std::mt19937 rng(1234);
    const float k = 1.0f / std::sqrt(float(o.H));
    fill_uniform(segs[0].src_layer, 1.0f, rng);
    fill_uniform(segs.back().d_dst_layer, 1.0f, rng);
    for (Segment& s : segs) {
        fill_uniform(s.h0, 1.0f, rng);
        if (c.has_c) fill_uniform(s.c0, 1.0f, rng);
        fill_uniform(s.wl_f.user, k, rng);
        fill_uniform(s.wi_f.user, k, rng);
        fill_uniform(s.bias, k, rng);
    }

    using clock = std::chrono::steady_clock;
    std::vector<double> all, fwd, bwd;
    for (int r = 0; r < o.warmup + o.reps; ++r) {
        const auto t0 = clock::now();
        forward(st, segs);
        const auto t1 = clock::now();
        backward(st, segs);
        const auto t2 = clock::now();
        if (r < o.warmup) continue;
        const double f = std::chrono::duration<double, std::milli>(t1 - t0).count();
        const double b = std::chrono::duration<double, std::milli>(t2 - t1).count();
        fwd.push_back(f);
        bwd.push_back(b);
        all.push_back(f + b);
    }

    // Results must be finite: output, input gradient, state and weight gradients.
    bool ok = all_finite(segs.back().dst_layer) && all_finite(segs[0].d_src_layer);
    for (Segment& s : segs)
        ok = ok && all_finite(s.d_h0) && all_finite(s.dwl.user) && all_finite(s.dwi.user) &&
             all_finite(s.dbias) && (!s.d_c0 || all_finite(s.d_c0));
    if (!ok) {
        std::fprintf(stderr, "onednn_rnn: non-finite values in output or gradients\n");
        return 1;
    }

    std::printf("{\"peer\":\"onednn\",\"cell\":\"%s\",\"T\":%ld,\"B\":%ld,\"X\":%ld,\"H\":%ld,"
                "\"L\":%ld,\"threads\":%d,\"ms_median\":%.3f,\"ms_min\":%.3f,\"ms_all\":[",
                o.cell.c_str(), o.T, o.B, o.X, o.H, o.L, omp_get_max_threads(), median(all),
                *std::min_element(all.begin(), all.end()));
    for (size_t i = 0; i < all.size(); ++i) std::printf("%s%.3f", i ? "," : "", all[i]);
    std::printf("],\"fwd_ms_median\":%.3f,\"bwd_ms_median\":%.3f,\"segments\":%zu,"
                "\"isa\":\"%s\"}\n",
                median(fwd), median(bwd), segs.size(), isa_name());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const Cell c = cell_of(o.cell);
    try {
        engine eng(engine::kind::cpu, 0);
        stream st(eng);
        std::vector<Segment> segs = make_segments(c, eng, o);
        return o.check_dir.empty() ? run_timing(o, c, st, segs) : run_check(o, c, st, segs);
    } catch (const dnnl::error& e) {
        std::fprintf(stderr, "onednn_rnn: oneDNN error %d: %s\n", int(e.status), e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "onednn_rnn: %s\n", e.what());
    }
    return 1;
}
