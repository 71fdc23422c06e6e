// DynamoDB item sizing and write units as AWS bills them.
import { itemSize, standardWriteUnits, transactionalWriteUnits, valueSize } from "../../lib/store/item-size";

describe("DynamoDB item size", () => {
  it("counts names and UTF-8 strings, numbers by significant digits, and container overhead", () => {
    expect(itemSize({ pk: "TASK#j", sk: "n1" })).toBe(2 + 6 + 2 + 2);
    expect(valueSize("é")).toBe(2);
    expect(valueSize(12345)).toBe(4); // 5 digits -> 3 bytes + 1
    expect(valueSize(100)).toBe(2); // trailing zeros are not significant
    expect(valueSize(true)).toBe(1);
    expect(valueSize([1, "ab"])).toBe(3 + (1 + 2) + (1 + 2));
    expect(valueSize({ a: 1 })).toBe(3 + 1 + 1 + 2);
    expect(valueSize(new Set(["x", "yz"]))).toBe(3);
  });

  it("bills 2 units per started KB in a transaction and 1 outside one", () => {
    expect(transactionalWriteUnits(10)).toBe(2);
    expect(transactionalWriteUnits(1024)).toBe(2);
    expect(transactionalWriteUnits(1025)).toBe(4);
    expect(standardWriteUnits(0)).toBe(1);
    expect(standardWriteUnits(3000)).toBe(3);
  });
});
