// `sous local` cannot be driven by a web page: a cross-site `text/plain` POST / (the kind a page
// can send without a preflight) saves nothing, a DNS-rebinding `Host` is refused, and the clients
// Bistro users have (curl -d, Bistro's Python client: no Origin, form or no content type) still work.
import { request } from "node:http";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalDeployment, type LocalDeployment } from "../../lib/local/deployment";
import { uniqueName } from "../helpers/aws";

const ROOT = join(__dirname, "..", "..");
const SIMPLE = JSON.parse(readFileSync(join(ROOT, "events", "bistro", "simple.json"), "utf8")) as Record<
  string,
  unknown
>;

/** A raw HTTP request, so Host, Origin and Content-Type are exactly what a browser or curl would send. */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method,
        headers,
        setHost: !("host" in headers),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const saveJob = (name: string) =>
  JSON.stringify({
    a: { handler: "save_job", job_id: name, job: { owner: "mallory", command: ["/bin/touch", "/tmp/x"] } },
  });

describe("sous local request guard", () => {
  let deployment: LocalDeployment;
  let host: string;
  beforeAll(async () => {
    deployment = await startLocalDeployment({
      name: uniqueName("guard"),
      workers: 0,
      workerCommand: "/bin/true",
      dataDir: mkdtempSync(join(tmpdir(), "sous-guard-")),
      port: 0,
      config: SIMPLE,
      allowedOrigins: ["http://127.0.0.1:1"],
    });
    host = new URL(deployment.apiUrl).host;
  });
  afterAll(async () => {
    await deployment.stop();
  });

  const jobs = async (): Promise<string[]> => {
    const answer = await send(deployment.apiUrl + "/jobs", "GET", {});
    expect(answer.status).toBe(200);
    return (JSON.parse(answer.body) as { jobs: { name: string }[] }).jobs.map((j) => j.name);
  };

  it("saves nothing for a text/plain POST / from a foreign Origin, and sends no CORS to it", async () => {
    const answer = await send(
      deployment.apiUrl + "/",
      "POST",
      { "content-type": "text/plain", origin: "http://evil.example" },
      saveJob("evil_job"),
    );
    expect(answer.status).toBe(403);
    expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
    expect(await jobs()).not.toContain("evil_job");
  });

  it("refuses a Host that is not the loopback address served (DNS rebinding)", async () => {
    const port = new URL(deployment.apiUrl).port;
    for (const bad of ["evil.example", `evil.example:${port}`]) {
      const read = await send(deployment.apiUrl + "/jobs", "GET", { host: bad });
      expect(read.status).toBe(421);
      const write = await send(deployment.apiUrl + "/", "POST", { host: bad }, saveJob("rebound_job"));
      expect(write.status).toBe(421);
    }
    expect(await jobs()).not.toContain("rebound_job");
  });

  it("answers curl -d (form content type) and Bistro's Python client (no content type, no Origin)", async () => {
    const curl = await send(
      deployment.apiUrl + "/",
      "POST",
      { "content-type": "application/x-www-form-urlencoded", "user-agent": "curl/8.5.0" },
      saveJob("curl_job"),
    );
    expect(curl.status).toBe(200);
    expect(JSON.parse(curl.body)).toEqual({ a: { data: "saved" } });
    const python = await send(
      deployment.apiUrl + "/",
      "POST",
      { host: host.replace("127.0.0.1", "localhost") },
      JSON.stringify({ a: { handler: "jobs" } }),
    );
    expect(python.status).toBe(200);
    expect(Object.keys((JSON.parse(python.body) as { a: { data: object } }).a.data)).toContain("curl_job");
  });

  it("accepts the server's own origin and the allowed ones, naming them in CORS", async () => {
    for (const origin of [`http://${host}`, "http://127.0.0.1:1"]) {
      const answer = await send(
        deployment.apiUrl + "/",
        "POST",
        { "content-type": "text/plain", origin },
        JSON.stringify({ a: { handler: "jobs" } }),
      );
      expect(answer.status).toBe(200);
      expect(answer.headers["access-control-allow-origin"]).toBe(origin);
    }
  });
});
