# The lrtune command line in an image: `docker run --rm lrtune:latest examples`.
#
# CPU build by default. For CUDA, point TORCH_INDEX_URL at the wheel index of a CUDA
# version your driver supports (https://pytorch.org/get-started/locally/), for example:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t lrtune .
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# torch first, in a layer of its own: it is by far the largest, and a change to lrtune's
# code then rebuilds only the layers below. Installing lrtune keeps it (torch>=2.2,<3).
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

# Built from /src, which is then removed: only the installed package stays, so that
# `python -m lrtune` (how `lrtune study --workers` starts workers) runs the same code.
COPY pyproject.toml README.md /src/
COPY lrtune/ /src/lrtune/
RUN pip install --no-cache-dir "/src[all]" && rm -rf /src

# The bundled study specs and the example task file, at /app/studies and /app/examples.
WORKDIR /app
COPY studies/ studies/
COPY examples/ examples/

# Not root. /app is the user's own so that the default sqlite:///lrtune.db, exports and
# reports can be written in the working directory.
RUN useradd --create-home --uid 1000 lrtune && chown lrtune:lrtune /app
USER lrtune

ENTRYPOINT ["lrtune"]
CMD ["--help"]
