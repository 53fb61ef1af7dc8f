/**
 * The test vectors of spec §4, byte for byte, for every test that checks signing or parsing
 * against them (the server side in test/protocol, the client's Web Crypto signing in test/client).
 */

/** A signed vector: everything needed to sign, and what signing must give. */
export interface SpecVector {
  /** The spec's name for it: `V1`, `V3`, … */
  readonly name: string;
  /** Where the spec took it from, where it says. */
  readonly origin?: string;
  readonly action: string;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly timestamp: number;
  /** Given only where the source of the vector (the spec, or our own tool run) gives it. */
  readonly stringToSign?: string;
  readonly signature: string;
  /** The canonical header: `Caa`, one space, base64 with one space before the timestamp. */
  readonly header: string;
}

/** Spec §4, V1 and V3–V5: signed vectors. */
export const SPEC_VECTORS: readonly SpecVector[] = [
  {
    name: 'V1',
    origin: 'the original signature document',
    action: 'user:personal-profile',
    apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=',
    secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=',
    timestamp: 1494908261599,
    stringToSign:
      '?action=user:personal-profile&apiKey=SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=&secretKey=fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=&timestamp=1494908261599',
    signature: 'VHTnYjscONrGXMumaGChvV+Q+Xo=',
    header:
      'Caa U3pnZ1U4ZGoyeGNlZ1hmWlZ4MXVjbS9oS2dyZThESWNrSFBveGtrbituMD06VkhUbllqc2NPTnJHWE11bWFHQ2h2VitRK1hvPSAxNDk0OTA4MjYxNTk5',
  },
  {
    name: 'V3',
    action: 'client:my:refresh-token',
    apiKey: 'bWFkZS11cC1hcGkta2V5LWZvci10ZXN0cy0wMDAwMDE=',
    secretKey: 'c2VjcmV0LWtleS1mb3ItdGhlLXNwZWMtdmVjdG9yLTE=',
    timestamp: 1510213872070,
    signature: 'RjBz0Ulof2RoRnxnCuMht2bz8AQ=',
    header:
      'Caa YldGa1pTMTFjQzFoY0drdGEyVjVMV1p2Y2kxMFpYTjBjeTB3TURBd01ERT06UmpCejBVbG9mMlJvUm54bkN1TWh0MmJ6OEFRPSAxNTEwMjEzODcyMDcw',
  },
  {
    name: 'V4',
    action: 'client:my:fetch-my-profile',
    apiKey: 'R1a9t4UhvdZNClWMVAr+AbnqRGv2uyQkzUf1KIuYIPI=',
    secretKey: 'VeP90RbFdLCDyanLeAKlYOT/r9SIbehNSS6cNOg4ImA=',
    timestamp: 1700000000000,
    signature: 'iAxiUqeMBNIH328W2NWcuNXSp5A=',
    header:
      'Caa UjFhOXQ0VWh2ZFpOQ2xXTVZBcitBYm5xUkd2MnV5UWt6VWYxS0l1WUlQST06aUF4aVVxZU1CTklIMzI4VzJOV2N1TlhTcDVBPSAxNzAwMDAwMDAwMDAw',
  },
  {
    name: 'V5',
    action: 'client:my:logout',
    apiKey: '5rUlwdy7uKg4eYN2C41guTtBKnqG4EwPMebmNJ1YGew=',
    secretKey: 'zWKcqNvD4x/CAIu14t5HztROyx4g9BUnrn2+RnOJxdY=',
    timestamp: 1764115200000,
    signature: 'kJIRPT9QPldKOt3P0w9K5Z8WjHY=',
    header:
      'Caa NXJVbHdkeTd1S2c0ZVlOMkM0MWd1VHRCS25xRzRFd1BNZWJtTkoxWUdldz06a0pJUlBUOVFQbGRLT3QzUDB3OUs1WjhXakhZPSAxNzY0MTE1MjAwMDAw',
  },
];

/** Spec §4, V2: the request of the refresh-token endpoint document; its secret is unknown, so parse only. */
export const SPEC_V2: {
  readonly header: string;
  readonly apiKey: string;
  readonly signature: string;
  readonly timestamp: number;
} = {
  header:
    'Caa N1QrTys5S01TbW0vL1Qrbi9yYlJrbkYxNzlFU3VaTGVTUXc0Ky96OHQ2ND06UytxZHBrbmZBS0l3WGY0YWFxdWNxd1Nsb1NzPSAxNTEwMjEzODcyMDcw',
  apiKey: '7T+O+9KMSmm//T+n/rbRknF179ESuZLeSQw4+/z8t64=',
  signature: 'S+qdpknfAKIwXf4aaqucqwSloSs=',
  timestamp: 1510213872070,
};
