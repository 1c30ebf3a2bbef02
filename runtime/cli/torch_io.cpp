// `cellforge export-torch` and `cellforge import-torch`: a trained character language model to a
// PyTorch model file (safetensors, state_dict names of scripts/torch_char_model.py's CharModel) and
// back to a trainer checkpoint, so that `cellforge sample` runs a model trained in PyTorch and
// `cellforge train --resume` fine-tunes it. The mapping is torch_char_model.hpp's; this file reads
// the arguments, the files, and says what it did.
#include <cstdio>

#include "codegen/ir/error.hpp"
#include "runtime/cli/args.hpp"
#include "runtime/cli/commands.hpp"
#include "runtime/cli/torch_char_model.hpp"
#include "runtime/cli/training.hpp"
#include "runtime/interop/safetensors_file.hpp"
#include "runtime/train/safetensors.hpp"

namespace cellforge::cli {

namespace {

std::string input_text(const train::ModelSpec& model) {
  return model.encoding == train::InputEncoding::embedding ? "embedding " + std::to_string(model.embedding) + " input"
                                                           : std::string("one-hot input");
}

}  // namespace

int run_export_torch(const Argv& argv) {
  Args args(argv, {"export-torch",
                   "Writes a trained model as a PyTorch model file (safetensors, the state_dict of "
                   "scripts/torch_char_model.py's CharModel), for PyTorch to sample or fine-tune it (docs/interop.md).",
                   {{"checkpoint", "FILE", "the trained model", ""},
                    {"out", "FILE", "the PyTorch file", ""},
                    {"prefix", "NAME.", "the recurrent module's prefix in the state_dict", kDefaultPrefix}}});
  const std::string checkpoint_path = args.text("checkpoint"), out = args.text("out");
  const train::Checkpoint checkpoint = load_checkpoint_or_explain(checkpoint_path, "--checkpoint");
  const TorchCharModel model = export_char_model(checkpoint, checkpoint_path, args.text("prefix", kDefaultPrefix));
  interop::write_safetensors(out, model.tensors, model.metadata);

  const train::ModelSpec& spec = checkpoint.model;
  std::printf("exported %s (%s x %lld layers, hidden %lld, %s, %lld characters; iteration %lld) to %s\n",
              checkpoint_path.c_str(), spec.cell.name().c_str(), (long long)spec.layers, (long long)spec.hidden,
              input_text(spec).c_str(), (long long)spec.vocabulary, (long long)checkpoint.progress.iteration, out.c_str());
  const interop::Tensor& head = model.tensors[model.tensors.size() - 2];  // head.weight [V, Y]
  std::printf("module   %s as '%s', head nn.Linear(%lld, %lld) as 'head.'%s\n", model.module.python().c_str(),
              model.metadata.at(kPrefixKey).c_str(), (long long)head.shape.at(1), (long long)head.shape.at(0),
              spec.encoding == train::InputEncoding::embedding ? ", nn.Embedding as 'embedding.'" : "");
  std::printf("tensors ");
  for (const interop::Tensor& t : model.tensors) std::printf(" %s %s", t.name.c_str(), interop::shape_string(t.shape).c_str());
  std::printf("\nPyTorch  /usr/bin/python3 scripts/torch_char_model.py sample %s --temperature 0  (CharModel.load in Python)\n",
              out.c_str());
  return 0;
}

int run_import_torch(const Argv& argv) {
  Command command{"import-torch",
                  "Reads a PyTorch model file (safetensors of an nn.RNN, nn.LSTM or nn.GRU character model) as a "
                  "checkpoint that cellforge sample runs and cellforge train --resume fine-tunes with the training "
                  "options given here (docs/interop.md).",
                  {{"weights", "FILE", "the PyTorch file", ""},
                   {"out", "FILE", "the checkpoint", ""},
                   {"vocabulary-from", "TEXT", "the text the model was trained on, for its vocabulary (needed to "
                                               "fine-tune; else the file's metadata)", ""},
                   {"prefix", "NAME.", "the recurrent module's prefix in the state_dict (default: the file's, else rnn.)",
                    ""},
                   {"nonlinearity", "tanh|relu", "the nonlinearity of an nn.RNN in a file that does not say which "
                                                 "module it holds", ""}}};
  command.options.insert(command.options.end(), training_options().begin(), training_options().end());
  Args args(argv, command);
  const std::string weights = args.text("weights"), out = args.text("out");
  ImportSettings settings;
  if (args.has("prefix")) settings.prefix = args.text("prefix");
  if (args.has("nonlinearity"))
    settings.rnn_mode = args.choice("nonlinearity", {"tanh", "relu"}, "") == "tanh" ? interop::TorchMode::rnn_tanh
                                                                                        : interop::TorchMode::rnn_relu;
  std::optional<train::Corpus> corpus;
  if (args.has("vocabulary-from")) corpus = train::Corpus::from_file(args.text("vocabulary-from"));
  settings.corpus = corpus ? &*corpus : nullptr;
  settings.config = training_config(args);
  const interop::SafetensorsFile file = interop::read_safetensors(weights);
  const train::Checkpoint checkpoint = import_char_model(file, weights, settings);

  // What is written must load: a failure here is cellforge's, not the file's.
  const std::string bytes = train::encode_checkpoint(checkpoint);
  try {
    train::decode_checkpoint(bytes, out);
  } catch (const UserError& e) {
    internal_error("the checkpoint imported from '", weights, "' does not verify: ", e.what());
  }
  train::write_file_atomically(out, bytes, "checkpoint '" + out + "'");

  const train::ModelSpec& spec = checkpoint.model;
  const train::TrainConfig& c = checkpoint.config;
  std::printf("imported %s: %s x %lld layers, hidden %lld, %s, %lld characters (vocabulary from %s)\n", weights.c_str(),
              spec.cell.name().c_str(), (long long)spec.layers, (long long)spec.hidden, input_text(spec).c_str(),
              (long long)spec.vocabulary, corpus ? ("'" + corpus->name + "'").c_str() : "the file's metadata");
  std::printf("wrote    %s at iteration 0; sample it: cellforge sample --checkpoint %s\n", out.c_str(), out.c_str());
  if (corpus)
    std::printf("fine-tune: cellforge train --resume %s --corpus %s  (%s lr %g, batch %lld x unroll %lld: the settings "
                "given here)\n",
                out.c_str(), corpus->name.c_str(), train::optimizer_name(c.optimizer.kind), c.optimizer.learning_rate,
                (long long)c.batch, (long long)c.unroll);
  else
    std::printf("fine-tuning needs the text: import with --vocabulary-from CORPUS (and the training options of "
                "cellforge train), then cellforge train --resume %s --corpus CORPUS\n",
                out.c_str());
  return 0;
}

}  // namespace cellforge::cli
