package producer

// Version is this library's version, sent to brokers in ApiVersions (KIP-511).
const Version = "0.1.0"
