// Integration and end-to-end tests talk to real services; their timeouts live here
// because jest reads testTimeout only from the top-level configuration.
jest.setTimeout(Number(process.env.SLUICE_TEST_TIMEOUT_MS ?? 90_000));
