// A fresh state table on the emulators for one test file.
import { makeAwsClients } from "../../lib/aws";
import type { StoreContext } from "../../lib/store/context";
import { ensureTable } from "../../lib/store/table";
import { emulatorClients, uniqueName } from "./aws";

export async function freshStore(): Promise<
  StoreContext & { destroy(): void; aws: ReturnType<typeof makeAwsClients> }
> {
  const aws = emulatorClients();
  const tableName = uniqueName("sous-test");
  await ensureTable(aws.dynamodb, tableName);
  return {
    doc: aws.doc,
    tableName,
    aws,
    destroy: () => {
      aws.destroy();
    },
  };
}
