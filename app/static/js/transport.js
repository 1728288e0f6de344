// How the Review page talks to the server: one WebSocket at /ws (OpenEnv's envelope), or REST
// (/reset and /step). Both return the body of a /reset or /step reply.

import { api, ApiError, askForApiKey } from "./api.js";

const SOCKET_OPEN_TIMEOUT_MS = 3000;
const SOCKET_REPLY_TIMEOUT_MS = 15000;

/** REST: /reset and /step. */
export class RestTransport {
  constructor(reason) {
    this.name = "REST";
    this.reason = reason;
  }

  reset(args) {
    return api("/reset", { method: "POST", body: args });
  }

  step(sessionId, action) {
    return api("/step", { method: "POST", body: { session_id: sessionId, action } });
  }

  close() {}
}

/** One WebSocket at /ws speaking OpenEnv's envelope; replies arrive in order. */
export class SocketTransport {
  static open(url) {
    return new Promise((resolve, reject) => {
      let socket;
      try {
        socket = new WebSocket(url);
      } catch (error) {
        reject(error);
        return;
      }
      const timer = setTimeout(() => { socket.close(); reject(new Error("timeout")); }, SOCKET_OPEN_TIMEOUT_MS);
      socket.addEventListener("open", () => { clearTimeout(timer); resolve(new SocketTransport(socket)); }, { once: true });
      socket.addEventListener("error", () => { clearTimeout(timer); reject(new Error("socket error")); }, { once: true });
    });
  }

  constructor(socket) {
    this.name = "WebSocket";
    this.socket = socket;
    this.pending = [];
    this.closed = false;
    socket.addEventListener("message", (event) => {
      const waiter = this.pending.shift();
      if (!waiter) return;
      clearTimeout(waiter.timer);
      try {
        waiter.resolve(JSON.parse(event.data));
      } catch {
        waiter.reject(new ApiError(0, "INVALID_JSON", "The server sent a frame that is not JSON."));
      }
    });
    socket.addEventListener("close", () => {
      this.closed = true;
      for (const waiter of this.pending.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new ApiError(0, "SOCKET_CLOSED", "The WebSocket connection was lost."));
      }
    });
  }

  send(frame) {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ApiError(0, "SOCKET_CLOSED", "The WebSocket connection was lost."));
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      waiter.timer = setTimeout(() => {
        this.socket.close();
      }, SOCKET_REPLY_TIMEOUT_MS);
      this.pending.push(waiter);
      this.socket.send(JSON.stringify(frame));
    });
  }

  static unwrap(reply) {
    if (reply.type === "error") {
      const data = reply.data || {};
      if (data.status === 401) askForApiKey(data.message);
      throw new ApiError(data.status || 400, data.reason || data.code, data.message, data.fields);
    }
    const data = reply.data;
    return {
      observation: data.observation,
      reward: data.reward,
      done: data.done,
      session_id: data.metadata.session_id,
      episode_id: data.metadata.episode_id,
      metadata: data.metadata,
    };
  }

  async reset(args) {
    return SocketTransport.unwrap(await this.send({ type: "reset", data: args }));
  }

  async step(_sessionId, action) {
    return SocketTransport.unwrap(await this.send({ type: "step", data: action }));
  }

  close() {
    if (!this.closed) {
      this.closed = true;
      try {
        this.socket.send(JSON.stringify({ type: "close" }));
      } catch {
        // already gone
      }
      this.socket.close();
    }
  }
}

/** Whether an error means the socket is unusable (lost, or refused for capacity). */
export function isSocketFailure(error) {
  return error instanceof ApiError && (error.code === "SOCKET_CLOSED" || error.code === "CAPACITY_REACHED");
}
