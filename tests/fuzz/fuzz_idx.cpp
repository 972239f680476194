// libFuzzer target: parse_idx and parse_safetensors on arbitrary bytes must either succeed or
// throw io::format_error; anything else (a crash, a sanitizer report, another exception) fails.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <kink/io/idx.hpp>
#include <kink/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char *>(data), size);
    for (std::size_t rank : {1u, 3u}) {
        try {
            const auto a = kink::io::parse_idx(bytes, rank, "fuzz");
            if (a.data.size() != a.count() * a.item_size()) __builtin_trap();
        } catch (const kink::io::format_error &) {
        }
    }
    try {
        (void)kink::io::parse_safetensors(bytes, "fuzz");
    } catch (const kink::io::format_error &) {
    }
    return 0;
}
