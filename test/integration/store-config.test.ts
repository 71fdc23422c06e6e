// Contract of the versioned config store (lib/store/config-store.ts) on DynamoDB Local.
import { getConfig, getCurrentConfigVersion, listConfigVersions, putConfig } from "../../lib/store/config-store";
import { ConflictError } from "../../lib/store/errors";
import { freshStore } from "../helpers/store";

let store: Awaited<ReturnType<typeof freshStore>>;
beforeAll(async () => {
  store = await freshStore();
});
afterAll(() => {
  store.destroy();
});

const settings = { enabled: true, nodes: { levels: ["host"] }, resources: {} };

describe("config store", () => {
  it("starts empty, then stores versions with optimistic concurrency", async () => {
    expect(await getConfig(store)).toBeNull();
    expect(await getCurrentConfigVersion(store)).toBeNull();

    const v1 = await putConfig(store, { bistro_settings: settings, "bistro_job->a": { owner: "me" } }, null, 1000);
    expect(v1).toBe(1);
    await expect(putConfig(store, { bistro_settings: settings }, null, 1001)).rejects.toBeInstanceOf(ConflictError);
    const v2 = await putConfig(store, { bistro_settings: settings, "bistro_job->b": { owner: "you" } }, 1, 2000);
    expect(v2).toBe(2);
    await expect(putConfig(store, { bistro_settings: settings }, 1, 2001)).rejects.toThrow(/expected version 1/);

    expect(await getConfig(store)).toEqual({
      version: 2,
      document: { bistro_settings: settings, "bistro_job->b": { owner: "you" } },
      updatedAtMs: 2000,
    });
    expect((await getConfig(store, 1))?.document).toEqual({
      bistro_settings: settings,
      "bistro_job->a": { owner: "me" },
    });
  });

  it("splits a large document across items and reads it back whole", async () => {
    const current = (await getCurrentConfigVersion(store))!;
    const big: Record<string, unknown> = { bistro_settings: settings };
    for (let i = 0; i < 400; i++) big[`bistro_job->job${i}`] = { owner: "bulk", config: { blob: "x".repeat(2000) } };
    const version = await putConfig(store, big, current, 3000);
    expect((await getConfig(store))?.document).toEqual(big);
    expect(version).toBe(current + 1);
  });

  it("of two writers racing from the same version, exactly one wins and the winner's document is intact", async () => {
    const base = (await getCurrentConfigVersion(store))!;
    const results = await Promise.allSettled([
      putConfig(store, { bistro_settings: settings, "bistro_job->left": { owner: "l" } }, base, 4000),
      putConfig(store, { bistro_settings: settings, "bistro_job->right": { owner: "r" } }, base, 4000),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect(rejected?.reason).toBeInstanceOf(ConflictError);
    const stored = await getConfig(store);
    expect(Object.keys(stored!.document).sort()).toEqual(
      results[0].status === "fulfilled"
        ? ["bistro_job->left", "bistro_settings"]
        : ["bistro_job->right", "bistro_settings"],
    );
  });

  it("keeps the last five versions readable", async () => {
    let version = (await getCurrentConfigVersion(store))!;
    for (let i = 0; i < 6; i++)
      version = await putConfig(store, { bistro_settings: settings, n: i }, version, 5000 + i);
    const versions = (await listConfigVersions(store)).map((v) => v.version);
    expect(versions).toEqual([version - 4, version - 3, version - 2, version - 1, version]);
    expect(await getConfig(store, version - 5)).toBeNull();
    expect((await getConfig(store, version - 4))?.document).toMatchObject({ n: 1 });
  });
});
