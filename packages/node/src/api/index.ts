/** The node's HTTP API: buildApi (the app, for inject and embedding) and startApi (listen and close). */
export { API_VERSION, type ApiDeps, buildApi } from "./app.js";
export { ADMIN_TOKEN_FILE, loadOrCreateAdminToken, NonceCache } from "./auth.js";
export type { ApiInstance, ApiNode, RecordVault } from "./context.js";
export { API_ERROR_CODES, ApiError, type ApiErrorCode } from "./errors.js";
export { ACCESS_LOG_HEADER } from "./routes/records.js";
export { type ApiServerOptions, type RunningApi, startApi } from "./server.js";
