// The `rds` node source's listing: clusters and instances through the SDK's DescribeDBClusters
// and DescribeDBInstances paginators. Loaded by rds.ts on first use, so only a function that
// refreshes an `rds` entry loads the SDK's RDS package.
import {
  paginateDescribeDBClusters,
  paginateDescribeDBInstances,
  type Filter,
  type RDSClient,
  type Tag,
} from "@aws-sdk/client-rds";

const tagStrings = (list: readonly Tag[] | undefined): string[] =>
  (list ?? []).map((tag) => `${tag.Key ?? ""}=${tag.Value ?? ""}`).sort();

export interface Listed {
  id: string;
  status: string;
  tags: string[];
  cluster?: string;
}

export async function listClusters(rds: RDSClient, filters: Filter[] | undefined): Promise<Listed[]> {
  const out: Listed[] = [];
  for await (const page of paginateDescribeDBClusters({ client: rds }, filters ? { Filters: filters } : {})) {
    for (const cluster of page.DBClusters ?? []) {
      if (!cluster.DBClusterIdentifier) continue;
      out.push({ id: cluster.DBClusterIdentifier, status: cluster.Status ?? "", tags: tagStrings(cluster.TagList) });
    }
  }
  return out;
}

export async function listInstances(rds: RDSClient, filters: Filter[] | undefined): Promise<Listed[]> {
  const out: Listed[] = [];
  for await (const page of paginateDescribeDBInstances({ client: rds }, filters ? { Filters: filters } : {})) {
    for (const instance of page.DBInstances ?? []) {
      if (!instance.DBInstanceIdentifier) continue;
      out.push({
        id: instance.DBInstanceIdentifier,
        status: instance.DBInstanceStatus ?? "",
        tags: tagStrings(instance.TagList),
        ...(instance.DBClusterIdentifier ? { cluster: instance.DBClusterIdentifier } : {}),
      });
    }
  }
  return out;
}
