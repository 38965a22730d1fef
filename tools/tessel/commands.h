// The CLI commands (contract in ARCHITECTURE.md and docs/cli.md). Each returns the exit code.
#pragma once

#include <string>
#include <vector>

namespace tessel::cli {

int convertCommand(const std::vector<std::string>& args);
int runCommand(const std::vector<std::string>& args);
int checkCommand(const std::vector<std::string>& args);
int benchCommand(const std::vector<std::string>& args);
int searchCommand(const std::vector<std::string>& args);
int operatorsCommand(const std::vector<std::string>& args);
int devicesCommand(const std::vector<std::string>& args);

} // namespace tessel::cli
