// Self-managed worker hosts as an EC2 Auto Scaling group: each instance installs the Sous npm
// artifact (`npm pack`'s tarball, uploaded as an asset), writes the systemd unit of
// packaging/sous-worker.service and starts `sous worker --api URL`. The instances' role carries
// the worker policy; the worker learns everything else from its registration.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Duration } from "aws-cdk-lib";
import * as autoscaling from "aws-cdk-lib/aws-autoscaling";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3assets from "aws-cdk-lib/aws-s3-assets";
import { Construct } from "constructs";

import { REPO_ROOT } from "./lambda";
import { acknowledge } from "./nag";

export interface SousWorkerHostsProps {
  /** Instance type of the hosts, e.g. `new ec2.InstanceType("c7g.large")`. */
  instanceType: ec2.InstanceType;
  /** Path of the `npm pack` artifact (`sous-<version>.tgz`) to install on the hosts. */
  packageTarball: string;
  /** `--command`: what tasks run, a path on the hosts. Default `/opt/tasks/run.sh`. */
  command?: string;
  /** `--resources`: the capacity each host's worker declares, e.g. `{cpu: 2}`. Default none. */
  resources?: Record<string, number>;
  /** Shell lines run as root before the worker starts (install task scripts, mount disks...). */
  setupCommands?: string[];
  /** Group size. Default 1 and 1. */
  minCapacity?: number;
  maxCapacity?: number;
  /** Root volume in GiB (encrypted gp3). Default 30. */
  volumeSizeGiB?: number;
}

export interface SousWorkerHostsServiceProps extends SousWorkerHostsProps {
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  assignPublicIp: boolean;
  apiUrl: string;
  policy: iam.IManagedPolicy;
}

const UNIT_PATH = join(REPO_ROOT, "packaging", "sous-worker.service");

export class SousWorkerHosts extends Construct {
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly role: iam.Role;
  readonly userData: ec2.UserData;

  constructor(scope: Construct, id: string, props: SousWorkerHostsServiceProps) {
    super(scope, id);
    const min = props.minCapacity ?? 1;
    const max = props.maxCapacity ?? Math.max(1, min);
    if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 0 && max >= 1 && min <= max)) {
      throw new Error(`selfManagedHosts needs whole capacities with 0 <= min <= max, max >= 1 (got ${min}, ${max}).`);
    }
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"),
      description: "Sous self-managed worker hosts (Auto Scaling group)",
      managedPolicies: [props.policy],
    });
    const artifact = new s3assets.Asset(this, "Package", { path: props.packageTarball });
    artifact.grantRead(this.role);

    this.userData = ec2.UserData.forLinux();
    const tarball = this.userData.addS3DownloadCommand({
      bucket: artifact.bucket,
      bucketKey: artifact.s3ObjectKey,
      localFile: "/opt/sous/sous.tgz",
    });
    this.userData.addCommands(...hostSetupCommands(props, tarball));

    const launchTemplate = new ec2.LaunchTemplate(this, "LaunchTemplate", {
      instanceType: props.instanceType,
      machineImage: ec2.MachineImage.latestAmazonLinux2023({
        cpuType:
          props.instanceType.architecture === ec2.InstanceArchitecture.ARM_64
            ? ec2.AmazonLinuxCpuType.ARM_64
            : ec2.AmazonLinuxCpuType.X86_64,
      }),
      userData: this.userData,
      role: this.role,
      securityGroup: new ec2.SecurityGroup(this, "SecurityGroup", {
        vpc: props.vpc,
        description: "Sous worker hosts: no inbound traffic; outbound HTTPS to AWS APIs and whatever tasks need",
        allowAllOutbound: true,
      }),
      associatePublicIpAddress: props.assignPublicIp,
      requireImdsv2: true,
      blockDevices: [
        {
          deviceName: "/dev/xvda",
          volume: ec2.BlockDeviceVolume.ebs(props.volumeSizeGiB ?? 30, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, "Group", {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      launchTemplate,
      minCapacity: min,
      maxCapacity: max,
      // A replaced instance gets SIGTERM through systemd: running tasks may finish, then are killed.
      defaultInstanceWarmup: Duration.minutes(3),
    });
    acknowledge(
      this.autoScalingGroup,
      "Worker hosts are visible in the API's worker list and the group's activity history; no one subscribes " +
        "to per-instance launch/terminate notifications.",
      "AwsSolutions-AS3",
    );
    acknowledge(
      this.role,
      "Reading the worker package asset: CDK's asset grant covers the asset bucket's objects (s3:GetObject*, " +
        "s3:List*) as the bootstrap bucket names them.",
      "AwsSolutions-IAM5[Action::s3:GetObject*]",
      "AwsSolutions-IAM5[Action::s3:GetBucket*]",
      "AwsSolutions-IAM5[Action::s3:List*]",
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]`,
    );
  }
}

/** What an instance runs at first boot, after the package tarball was downloaded to `tarball`. */
export function hostSetupCommands(props: SousWorkerHostsServiceProps, tarball: string): string[] {
  const args = [...Object.entries(props.resources ?? {}).map(([name, amount]) => `${name}=${amount}`)];
  const environment = [
    `SOUS_API=${props.apiUrl}`,
    `SOUS_TASK_COMMAND=${props.command ?? "/opt/tasks/run.sh"}`,
    `SOUS_WORKER_ARGS=${args.length > 0 ? `--resources ${args.join(",")}` : ""}`,
  ];
  return [
    "set -euo pipefail",
    // Node 22 from the distribution; setpriv (util-linux) gives tasks their parent-death signal.
    "dnf install -y nodejs22 nodejs22-npm util-linux",
    `npm-22 install --global --no-audit --no-fund ${tarball}`,
    "id sous >/dev/null 2>&1 || useradd --system --home-dir /var/lib/sous --create-home sous",
    "mkdir -p /etc/sous",
    `cat > /etc/sous/worker.env <<'SOUS_ENV'\n${environment.join("\n")}\nSOUS_ENV`,
    `cat > /etc/systemd/system/sous-worker.service <<'SOUS_UNIT'\n${readFileSync(UNIT_PATH, "utf8").trimEnd()}\nSOUS_UNIT`,
    ...(props.setupCommands ?? []),
    "systemctl daemon-reload",
    "systemctl enable --now sous-worker",
  ];
}
