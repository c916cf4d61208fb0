// SPDX-License-Identifier: Apache-2.0
// Replays fuzz inputs without libFuzzer: each argument is a file or a
// directory of files, each file is passed once to LLVMFuzzerTestOneInput.
// Used by non-fuzz builds (gcc, ASan) to keep the corpora as regressions.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);

namespace {

bool run_file(const std::filesystem::path &file)
{
	std::ifstream in(file, std::ios::binary);
	if (!in) {
		std::fprintf(stderr, "cannot read %s\n", file.c_str());
		return false;
	}
	const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
				      std::istreambuf_iterator<char>());
	// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the fuzz ABI takes bytes
	(void)LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t *>(bytes.data()),
				     bytes.size());
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	std::size_t ran = 0;
	bool ok = true;
	for (const char *arg : std::span(argv, static_cast<std::size_t>(argc)).subspan(1)) {
		const std::filesystem::path p(arg);
		if (std::filesystem::is_directory(p)) {
			for (const auto &e : std::filesystem::directory_iterator(p)) {
				if (e.is_regular_file()) {
					ok = run_file(e.path()) && ok;
					++ran;
				}
			}
		} else {
			ok = run_file(p) && ok;
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
