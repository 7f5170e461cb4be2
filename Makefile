# Everyday targets; CMake does the work.
.PHONY: all test asan fuzz bench run clean format
all:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j
test: all
	cd build && ctest --output-on-failure -j2
asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCG_SANITIZE=ON >/dev/null && cmake --build build-asan -j && cd build-asan && ctest --output-on-failure
fuzz:
	CC=clang cmake -S . -B build-fuzz -DCG_FUZZ=ON -DCG_TESTS=OFF >/dev/null && cmake --build build-fuzz -j
bench: all
	./build/cidguard-bench
run:
	sh scripts/run.sh
format:
	clang-format -i $$(git ls-files '*.c' '*.h')
clean:
	rm -rf build build-asan build-fuzz
