// The in-memory store adapter against the store ports contract.
import { memoryStorePorts } from "../../lib/store/memory-store";
import { describeStoreContract } from "../contract/store-contract";

describeStoreContract("in memory", () => Promise.resolve({ ports: memoryStorePorts() }));
