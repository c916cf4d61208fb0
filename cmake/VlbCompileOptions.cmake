# Compiler options every user-space target gets through vlb_compile_options.
# Hardening flags are on in every build type: this code handles hostile input.
add_library(vlb_compile_options INTERFACE)

target_compile_options(vlb_compile_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wcast-align
  -Wformat=2 -Wimplicit-fallthrough -Wnull-dereference -Wundef
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual>
  -fstack-protector-strong -fno-strict-aliasing
  $<$<BOOL:${VLB_WERROR}>:-Werror>)
target_compile_definitions(vlb_compile_options INTERFACE
  $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
target_link_options(vlb_compile_options INTERFACE -Wl,-z,relro,-z,now -Wl,-z,noexecstack)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
include(CheckPIESupported)
check_pie_supported()

if(VLB_SANITIZE OR VLB_FUZZ)
  target_compile_options(vlb_compile_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(vlb_compile_options INTERFACE -fsanitize=address,undefined)
  # FORTIFY wrappers hide accesses from ASan.
  target_compile_options(vlb_compile_options INTERFACE -U_FORTIFY_SOURCE)
endif()

if(VLB_COVERAGE)
  target_compile_options(vlb_compile_options INTERFACE --coverage -O0)
  target_link_options(vlb_compile_options INTERFACE --coverage)
endif()
