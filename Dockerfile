# syntax=docker/dockerfile:1
# Build a static didrouter binary (pure Go: the SQLite driver needs no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/didrouter ./cmd/didrouter \
 && mkdir -p /out/data

# Run it as a non-root user in a minimal image.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/didrouter /didrouter
# The embedded SQLite store (used when DATABASE_URL is empty) writes here.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
ENV DIDROUTER_ADDR=:8080 \
    DIDROUTER_DATA=/data/didrouter.db
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/didrouter", "healthcheck"]
ENTRYPOINT ["/didrouter"]
CMD ["serve"]
