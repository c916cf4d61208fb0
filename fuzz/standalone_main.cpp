// SPDX-License-Identifier: Apache-2.0
// Replays fuzz inputs without libFuzzer: each argument is a file or a
// directory of files, each file is passed once to LLVMFuzzerTestOneInput.
// Used by non-fuzz builds (gcc, ASan) to keep the corpora and the
// regressions (fuzz/regressions) as tests.
//
// Usage: fuzz_TARGET [-timeout=SECONDS] FILE_OR_DIR...
// An input that runs longer than SECONDS (default 10, libFuzzer's flag and
// meaning; 0 for none) is a hang: the replay stops with its name and exit 1.
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);

namespace {

// The input being replayed, for the SIGALRM handler: a signal handler can
// reach nothing else. Written only between inputs, read only in the handler.
char g_current[4096]; // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

void on_timeout(int /*sig*/)
{
	constexpr std::string_view kMsg = "fuzz replay: timeout (a hang) on input ";
	(void)!::write(STDERR_FILENO, kMsg.data(), kMsg.size());
	(void)!::write(STDERR_FILENO, g_current, std::strlen(g_current));
	(void)!::write(STDERR_FILENO, "\n", 1);
	::_exit(1);
}

bool run_file(const std::filesystem::path &file, unsigned timeout)
{
	std::ifstream in(file, std::ios::binary);
	if (!in) {
		std::fprintf(stderr, "cannot read %s\n", file.c_str());
		return false;
	}
	const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
				      std::istreambuf_iterator<char>());
	std::snprintf(g_current, sizeof(g_current), "%s", file.c_str());
	::alarm(timeout);
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the fuzz ABI takes bytes
	(void)LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t *>(bytes.data()),
				     bytes.size());
	::alarm(0);
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	unsigned timeout = 10;
	std::size_t ran = 0;
	bool ok = true;
	struct sigaction sa{};
	sa.sa_handler = on_timeout;
	::sigaction(SIGALRM, &sa, nullptr);
	for (const char *arg : std::span(argv, static_cast<std::size_t>(argc)).subspan(1)) {
		const std::string_view a(arg);
		if (a.starts_with("-timeout=")) {
			timeout = static_cast<unsigned>(std::strtoul(arg + 9, nullptr, 10));
			continue;
		}
		const std::filesystem::path p(arg);
		if (std::filesystem::is_directory(p)) {
			for (const auto &e : std::filesystem::directory_iterator(p)) {
				if (e.is_regular_file()) {
					ok = run_file(e.path(), timeout) && ok;
					++ran;
				}
			}
		} else {
			ok = run_file(p, timeout) && ok;
			++ran;
		}
	}
	if (ran == 0) {
		std::fprintf(stderr, "no inputs: an empty corpus tests nothing\n");
		return 1;
	}
	std::printf("replayed %zu inputs\n", ran);
	return ok ? 0 : 1;
}
