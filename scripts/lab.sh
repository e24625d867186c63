#!/usr/bin/env bash
# `just lab LAB [OBJ] [ARGS]` and `just lab-7-N [OBJ] [ARGS]`: runs `xdplab run LAB`. The first
# argument is the object to check unless it is a flag (`just lab-7-2 --mode test-run` checks the
# reference), relative to the folder just was invoked from. XDPLAB names another binary.
set -euo pipefail
lab=$1 from=$2
shift 2
object=()
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
    case $1 in
        /*) object=(--object "$1") ;;
        *) object=(--object "$from/$1") ;;
    esac
    shift
fi
exec "${XDPLAB:-target/release/xdplab}" run "$lab" "${object[@]}" "$@"
