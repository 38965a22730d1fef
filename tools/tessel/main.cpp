// tessel: the command-line front door (convert, run, check, bench).
#include "commands.h"

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const char* usage =
      "usage: tessel <command> [args]\n"
      "  convert MODEL.onnx -o MODEL.tsl [--shape NAME=DIMS]... [--backends LIST] [--search "
      "off|model] [--target host|NAME] [--threads N] [--profile FILE]\n"
      "  run MODEL.(onnx|tsl) [--input NAME=FILE.(pb|npy)]... [--output-dir DIR] [--backend NAME]\n"
      "  check DIR... [--rtol R] [--atol A] [--backend NAME] [--dynamic]\n"
      "  bench MODEL [--shape NAME=DIMS]... [--backend NAME] [--runs N] [--warmup N] [--json]\n"
      "  search MODEL [--search model|measure] [--profile FILE] [--report] [--json]\n"
      "  devices [--json]   (each backend's device, measured: the search's device signature)\n"
      "  operators   (the supported ONNX operators and element types, as Markdown)\n";
  if (argc < 2) {
    std::fputs(usage, stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  // The commands report failures as Status values and check sizes against the memory budget
  // before allocating; should an allocation still fail (the build has no exceptions, so it
  // would abort), it ends as one error line and exit status 1.
  std::set_new_handler([] {
    std::fputs("tessel: error: out of memory\n", stderr);
    std::_Exit(1);
  });
  if (cmd == "convert") return tessel::cli::convertCommand(args);
  if (cmd == "run") return tessel::cli::runCommand(args);
  if (cmd == "check") return tessel::cli::checkCommand(args);
  if (cmd == "bench") return tessel::cli::benchCommand(args);
  if (cmd == "search") return tessel::cli::searchCommand(args);
  if (cmd == "operators") return tessel::cli::operatorsCommand(args);
  if (cmd == "devices") return tessel::cli::devicesCommand(args);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(usage, stdout);
    return 0;
  }
  std::fprintf(stderr, "tessel: error: unknown command '%s'\n%s", cmd.c_str(), usage);
  return 2;
}
