// The REST API in front of the API function: a root ANY and a `{proxy+}` ANY, both proxied to the
// function (its router matches paths), every method authorized (IAM by default; Cognito or API
// keys on request), access logs, X-Ray tracing and stage-wide throttling.
import { RemovalPolicy } from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as cognito from "aws-cdk-lib/aws-cognito";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

import { acknowledge } from "./nag";

/** How callers prove who they are. Every method uses the same one. */
export type SousApiAuthorization =
  /** SigV4-signed requests; callers need `execute-api:Invoke` (the CLI and workers sign with their credentials). */
  | { type: "iam" }
  /** Cognito user pool ID tokens in the Authorization header. */
  | { type: "cognito"; userPools: cognito.IUserPool[] }
  /** An `x-api-key` header; a usage plan and one key are created. Weaker: a key is a shared secret. */
  | { type: "apiKey" };

export interface SousApiProps {
  handler: lambda.IFunction;
  authorization: SousApiAuthorization;
  /** Requests per second (steady) and burst for the whole stage. */
  throttle: { rateLimit: number; burstLimit: number };
  tracing: boolean;
  logRetention: logs.RetentionDays;
  removalPolicy: RemovalPolicy;
  /**
   * Create the account-wide role API Gateway uses to write execution logs. Only one per account
   * and region is in effect; set false if your account already has one.
   */
  cloudWatchRole: boolean;
}

export const API_STAGE = "v1";

export class SousApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly accessLogs: logs.LogGroup;
  readonly apiKey?: apigateway.IApiKey;

  constructor(scope: Construct, id: string, props: SousApiProps) {
    super(scope, id);
    this.accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.api = new apigateway.RestApi(this, "RestApi", {
      description: "Sous scheduler API (Bistro-compatible)",
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole: props.cloudWatchRole,
      ...(props.cloudWatchRole ? { cloudWatchRoleRemovalPolicy: props.removalPolicy } : {}),
      deployOptions: {
        stageName: API_STAGE,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        tracingEnabled: props.tracing,
        metricsEnabled: true,
        // Execution logs need the account's CloudWatch role; ERROR keeps them small.
        loggingLevel: props.cloudWatchRole ? apigateway.MethodLoggingLevel.ERROR : apigateway.MethodLoggingLevel.OFF,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
      },
      defaultMethodOptions: methodOptions(this, props.authorization),
    });
    // SousScheduler outputs the URL under a stable name; drop RestApi's own duplicate output.
    this.api.node.tryRemoveChild("Endpoint");
    // Proxy methods declare no models or required parameters, so this validator checks little
    // (the function validates every body with zod), but it costs nothing and guards any that are added.
    const requestValidator = this.api.addRequestValidator("Validator", {
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    // allowTestInvoke false: the console's test button would need its own invoke permission.
    const integration = new apigateway.LambdaIntegration(props.handler, { proxy: true, allowTestInvoke: false });
    this.api.root.addMethod("ANY", integration, { requestValidator });
    this.api.root.addResource("{proxy+}").addMethod("ANY", integration, { requestValidator });

    if (props.authorization.type === "apiKey") {
      // `as`: CDK classes declare `x: T | undefined` where their interfaces say `x?: T`, which
      // exactOptionalPropertyTypes refuses to assign; the class is that interface's implementation.
      const plan = this.api.addUsagePlan("UsagePlan", {
        throttle: props.throttle,
        apiStages: [{ api: this.api as apigateway.IRestApi, stage: this.api.deploymentStage }],
      });
      this.apiKey = this.api.addApiKey("ApiKey");
      plan.addApiKey(this.apiKey);
    }

    acknowledge(
      this.api,
      "A web ACL costs $5/month plus $1 per rule; the API is authenticated on every method and throttled per " +
        "stage. Associate a WAF web ACL with the stage if it is exposed to untrusted networks.",
      "AwsSolutions-APIG3",
    );
    if (props.cloudWatchRole) {
      acknowledge(
        this.api,
        "AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for API Gateway's account-level logging " +
          "role; it grants only CloudWatch Logs writes.",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      );
    } else {
      acknowledge(
        this.api,
        "Execution logs need API Gateway's account-level CloudWatch role, which cloudWatchRole: false declines to " +
          "create; the access logs still record every request.",
        "AwsSolutions-APIG6",
      );
    }
    if (props.authorization.type === "iam") {
      acknowledge(
        this.api,
        "Every method requires IAM (SigV4) authorization: callers are AWS principals (the CLI, workers), so a " +
          "Cognito user pool would add a second identity system.",
        "AwsSolutions-COG4",
      );
    } else if (props.authorization.type === "apiKey") {
      acknowledge(
        this.api,
        "API-key authorization was chosen explicitly (apiAuthorization: apiKey); every method requires the key.",
        "AwsSolutions-APIG4",
        "AwsSolutions-COG4",
      );
    }
  }

  /** The base URL, ending in `/`. */
  get url(): string {
    return this.api.url;
  }
}

function methodOptions(scope: Construct, authorization: SousApiAuthorization): apigateway.MethodOptions {
  switch (authorization.type) {
    case "iam":
      return { authorizationType: apigateway.AuthorizationType.IAM };
    case "cognito":
      return {
        authorizationType: apigateway.AuthorizationType.COGNITO,
        authorizer: new apigateway.CognitoUserPoolsAuthorizer(scope, "Authorizer", {
          cognitoUserPools: authorization.userPools,
        }),
      };
    case "apiKey":
      return { authorizationType: apigateway.AuthorizationType.NONE, apiKeyRequired: true };
  }
}
