// joconde: the command-line client for people and scripts; talks JSON over HTTP to one node's API
// (see docs/cli.md and cli_client.hpp).

#include "cli/cli_client.hpp"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::vector<std::string> args{argv + (argc > 0 ? 1 : 0), argv + argc};
  return joconde::cli::run(args, joconde::cli::process_environment(), std::cout, std::cerr);
}
