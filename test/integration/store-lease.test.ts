// Contract of the scheduler lease (lib/store/lease.ts) on DynamoDB Local.
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { acquireLease, leaseFence, markRoundWanted, releaseLease } from "../../lib/store/lease";
import { freshStore } from "../helpers/store";

let store: Awaited<ReturnType<typeof freshStore>>;
beforeAll(async () => {
  store = await freshStore();
});
afterAll(() => {
  store.destroy();
});

async function fencedWrite(lease: Parameters<typeof leaseFence>[1], marker: string): Promise<boolean> {
  try {
    await store.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          leaseFence(store, lease),
          { Put: { TableName: store.tableName, Item: { pk: "MARK", sk: marker } } },
        ],
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof TransactionCanceledException) return false;
    throw error;
  }
}

describe("scheduler lease", () => {
  it("can be taken after a poke on a fresh table (the poke leaves no holder)", async () => {
    const fresh = await freshStore();
    try {
      await markRoundWanted(fresh);
      expect(await acquireLease(fresh, "first-round", 1_000, 10_000)).toMatchObject({ owner: "first-round", epoch: 1 });
    } finally {
      fresh.destroy();
    }
  });

  it("is exclusive while unexpired, and a takeover after expiry bumps the epoch and fences the old holder", async () => {
    const a = await acquireLease(store, "round-a", 1_000, 10_000);
    expect(a).toMatchObject({ owner: "round-a", epoch: 1, round: 1 });
    expect(await acquireLease(store, "round-b", 5_000, 10_000)).toBeNull();

    const b = await acquireLease(store, "round-b", 12_000, 10_000);
    expect(b).toMatchObject({ owner: "round-b", epoch: 2, round: 2 });

    expect(await fencedWrite(a!, "from-a")).toBe(false);
    expect(await fencedWrite(b!, "from-b")).toBe(true);
  });

  it("renews for the holder without changing the epoch, numbering each round", async () => {
    const first = await acquireLease(store, "round-b", 13_000, 10_000);
    expect(first).toBeNull(); // a renewal needs the previous lease; a bare acquire is a takeover attempt
    const current = await acquireLease(store, "round-c", 30_000, 10_000);
    const renewed = await acquireLease(store, "round-c", 31_000, 10_000, current!);
    expect(renewed).toMatchObject({ owner: "round-c", epoch: current!.epoch, round: current!.round + 1 });
    expect(renewed!.expiresAtMs).toBe(41_000);
  });

  it("fails to renew a lease someone else took over, and then cannot take it back while it is live", async () => {
    const mine = await acquireLease(store, "round-d", 100_000, 1_000);
    const theirs = await acquireLease(store, "round-e", 102_000, 10_000);
    expect(theirs?.epoch).toBe(mine!.epoch + 1);
    expect(await acquireLease(store, "round-d", 103_000, 1_000, mine!)).toBeNull();
  });

  it("release lets the next round in at once", async () => {
    const held = await acquireLease(store, "round-f", 200_000, 60_000);
    await releaseLease(store, held!);
    const next = await acquireLease(store, "round-g", 200_001, 60_000);
    expect(next?.epoch).toBe(held!.epoch + 1);
    await releaseLease(store, held!); // releasing a lease we no longer hold changes nothing
    expect(await acquireLease(store, "round-h", 200_002, 60_000)).toBeNull();
  });
});
