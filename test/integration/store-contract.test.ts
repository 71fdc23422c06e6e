// The DynamoDB store adapter, on DynamoDB Local, against the store ports contract.
import { dynamoStorePorts } from "../../lib/store/dynamo-store";
import { describeStoreContract } from "../contract/store-contract";
import { freshStore } from "../helpers/store";

describeStoreContract("DynamoDB", async () => {
  const store = await freshStore();
  return { ports: dynamoStorePorts(store), destroy: store.destroy };
});
