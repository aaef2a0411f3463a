#!/usr/bin/env bash
# docker-py's own integration tests (tests/integration of the Python SDK's repository) against
# the engine DOCKER_HOST names: Berth's (`eval "$(berth env)"`) or a native engine, to compare.
#
#   tests/sdk/docker-py.sh DOCKER_PY_CHECKOUT [PYTEST_ARGS...]
#
# DOCKER_PY_CHECKOUT is a checkout (or `git archive`) of docker-py, kept outside this repository.
# The SDK is used from that checkout (PYTHONPATH), its test tools (pytest, requests, urllib3)
# from PyPI in a virtual environment under $BERTH_CACHE_DIR (made once). Docker Hub is not
# assumed reachable: the images the tests use (alpine:3.10, alpine:latest, busybox:latest) are
# stand-ins imported from the host's static busybox (busybox-static) when the engine has none,
# and the tests that pull from Docker Hub are deselected (DOCKER_PY_WITH_PULLS=1 keeps them).
# The subset run: containers, exec, images, volumes, networks and the client basics (the
# API and model tests of each, plus errors and regression tests); swarm, services, secrets,
# configs, plugins, build (BuildKit-less legacy builder with `FROM busybox`) and contexts are
# left out. DOCKER_PY_FILES="api_exec_test.py …" runs only those files. The junit report goes to $DOCKER_PY_JUNIT when set.
set -euo pipefail

src=${1:?usage: $0 DOCKER_PY_CHECKOUT [PYTEST_ARGS...]}
shift
src=$(cd "$src" && pwd)
[ -f "$src/tests/integration/base.py" ] || { echo "$src is not a docker-py checkout" >&2; exit 2; }
[ -n "${DOCKER_HOST:-}" ] || { echo 'DOCKER_HOST is not set: eval "$(berth env)" first, or name a native engine' >&2; exit 2; }

cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
venv=$cache/docker-py-venv
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import paramiko, websocket" 2>/dev/null; then
	echo "docker-py.sh: making $venv (pytest and the SDK's dependencies from PyPI)" >&2
	/usr/bin/python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet --disable-pip-version-check \
		'pytest>=8,<9' 'pytest-timeout>=2,<3' 'requests>=2.26' 'urllib3>=1.26' 'packaging' 'paramiko>=2.4.3' 'websocket-client>=1.3'
fi

docker_cli() { docker --host "$DOCKER_HOST" "$@"; }

# Stand-ins for Docker Hub's images: busybox with its applets as links, `sh` as the command.
stand_in() {
	local name=$1 root
	docker_cli image inspect "$name" >/dev/null 2>&1 && return 0
	root=$(mktemp -d)
	chmod 755 "$root" # the image's /, which other users (`-u 1000`) must traverse
	# Alpine's directories and users that the tests rely on (`-w /var/opt`, `-u postgres`).
	mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var/opt" "$root/home" "$root/usr/bin"
	cp /bin/busybox "$root/bin/busybox"
	local applet
	for applet in $("$root/bin/busybox" --list); do
		[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70::/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\npostgres:x:70:\nnogroup:x:65534:\n' >"$root/etc/group"
	tar -C "$root" -c . | docker_cli import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$name" >/dev/null
	rm -rf "$root"
	echo "docker-py.sh: $name is a busybox stand-in" >&2
}
for image in alpine:3.10 alpine:latest busybox:latest; do stand_in "$image"; done

# DOCKER_PY_FILES (names in tests/integration) runs only those.
read -r -a files <<<"${DOCKER_PY_FILES:-}"
[ "${#files[@]}" -gt 0 ] || files=(
	api_client_test.py client_test.py errors_test.py regression_test.py
	api_container_test.py models_containers_test.py
	api_exec_test.py
	api_image_test.py models_images_test.py
	api_volume_test.py models_volumes_test.py
	api_network_test.py models_networks_test.py
)
deselect=()
if [ -z "${DOCKER_PY_WITH_PULLS:-}" ]; then
	# Tests that pull from Docker Hub (hello-world, alpine, busybox's distribution manifest),
	# or expect its "not found" for a missing image.
	deselect=(-k 'not test_pull and not Pull and not test_get_load_image and not test_prune_images
		and not test_inspect_distribution and not test_run_with_image_that_does_not_exist
		and not (ImageCollectionTest and test_list) and not (ImageTest and test_tag_and_remove)')
fi
report=()
[ -z "${DOCKER_PY_JUNIT:-}" ] || report=(--junitxml "$DOCKER_PY_JUNIT")
cd "$src"
for i in "${!files[@]}"; do files[i]=tests/integration/${files[i]}; done
PYTHONPATH=$src exec "$venv/bin/pytest" -p no:cacheprovider --timeout 180 -q -rfE \
	"${deselect[@]}" "${report[@]}" "${files[@]}" "$@"
