# Offline stand-in for python:3.11-slim, for hosts that reach no container registry.
# Debian's python3 refuses `pip install` (PEP 668) and has no `python`: a venv first on PATH makes
# python, pip and console scripts behave as in the official slim image. No curl: healthchecks use Python.
ARG DEBIAN_IMAGE=local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
COPY host-ca.pem /etc/host-ca.pem
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/host-ca.pem \
    LANG=C.UTF-8
CMD ["python3"]
