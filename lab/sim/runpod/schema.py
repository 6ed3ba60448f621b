"""The emulated RunPod GraphQL API: the part of RunPod's schema that the ``runpod`` SDK uses,
executed by graphql-core against a :class:`~lab.sim.runpod.pods.PodBook`.

The SDK sends fixed documents (``get_pods``, ``get_pod``, ``get_gpus``, ``get_gpu``,
``stop_pod``, ``resume_pod``, ``create_pod``); the types below carry exactly the fields they
select, under RunPod's names, so a query for a field RunPod lacks fails validation here as it
would there. graphql-core comes with the ``scope-lab[runpod]`` extra and is imported only
when a request arrives.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from lab.sim.runpod.catalogue import GPU_TYPES
from lab.sim.runpod.pods import ApiRefusal, PodBook

__all__ = ["SDL", "execute"]

SDL = """
type Query {
  myself: User
  pod(input: PodFilter!): Pod
  gpuTypes(input: GpuTypeFilter): [GpuType]
}
type Mutation {
  podStop(input: PodStopInput!): Pod
  podResume(input: PodResumeInput!): Pod
  podFindAndDeployOnDemand(input: PodFindAndDeployOnDemandInput): Pod
}
type User { id: String, pubKey: String, pods: [Pod], networkVolumes: [NetworkVolume] }
type NetworkVolume { id: String, name: String, size: Int, dataCenterId: String }
enum PodStatus { CREATED RUNNING RESTARTING EXITED PAUSED DEAD TERMINATED }
type Pod {
  id: String!  name: String  imageName: String  desiredStatus: PodStatus  costPerHr: Float
  gpuCount: Int  uptimeSeconds: Int  lastStatusChange: String  env: [String]  ports: String
  port: Int  podType: String  containerDiskInGb: Int  volumeInGb: Float  volumeMountPath: String
  memoryInGb: Float  vcpuCount: Float  dockerArgs: String  dockerId: String  machineId: String
  runtime: PodRuntime  machine: PodMachineInfo
}
type PodRuntime { uptimeInSeconds: Int, ports: [PodRuntimePorts] }
type PodRuntimePorts { ip: String, isIpPublic: Boolean, privatePort: Int, publicPort: Int, type: String }
type PodMachineInfo { gpuDisplayName: String, podHostId: String }
type GpuType {
  id: String  displayName: String  memoryInGb: Int  maxGpuCount: Int  manufacturer: String
  cudaCores: Int  secureCloud: Boolean  communityCloud: Boolean  securePrice: Float
  communityPrice: Float  oneMonthPrice: Float  threeMonthPrice: Float  oneWeekPrice: Float
  communitySpotPrice: Float  secureSpotPrice: Float
  lowestPrice(input: GpuLowestPriceInput): LowestPrice
}
type LowestPrice { minimumBidPrice: Float, uninterruptablePrice: Float }
input PodFilter { podId: String! }
input GpuTypeFilter { id: String }
input GpuLowestPriceInput { gpuCount: Int }
input PodStopInput { podId: String!, incrementVersion: Boolean }
input PodResumeInput { podId: String!, gpuCount: Int! }
input EnvironmentVariableInput { key: String!, value: String! }
enum CloudTypeEnum { ALL SECURE COMMUNITY }
input PodFindAndDeployOnDemandInput {
  name: String  imageName: String  cloudType: CloudTypeEnum  startSsh: Boolean  gpuTypeId: String
  supportPublicIp: Boolean  gpuCount: Int  volumeInGb: Int  minVcpuCount: Int  minMemoryInGb: Int
  allowedCudaVersions: [String]  dataCenterId: String  dockerArgs: String  countryCode: String
  containerDiskInGb: Int  ports: String  volumeMountPath: String  env: [EnvironmentVariableInput]
  templateId: String  networkVolumeId: String  minDownload: Int  minUpload: Int
}
"""


class _Root:
    """Resolvers of the root fields (graphql-core calls a root value's methods by field name)."""

    def __init__(self, book: PodBook) -> None:
        self.book = book

    def myself(self, _info: Any) -> dict[str, Any]:
        return {"id": "sim-user", "pubKey": "", "networkVolumes": [],
                "pods": [self.book.as_api(pod) for pod in self.book.mine()]}

    def pod(self, _info: Any, input: dict[str, Any]) -> dict[str, Any] | None:
        pod = self.book.own_pod(input["podId"])
        return None if pod is None else self.book.as_api(pod)

    def gpuTypes(self, _info: Any, input: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        wanted = (input or {}).get("id")
        return [gpu.as_api() | {"lowestPrice": _lowest_price(gpu.price_per_h)}
                for gpu in GPU_TYPES if wanted is None or gpu.id == wanted]

    def podStop(self, _info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self.book.as_api(self.book.stop(input["podId"]))

    def podResume(self, _info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self.book.as_api(self.book.resume(input["podId"], input["gpuCount"]))

    def podFindAndDeployOnDemand(self, _info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self.book.as_api(self.book.deploy(input))


def _lowest_price(price: float) -> Any:
    def resolve(_info: Any, input: dict[str, Any] | None = None) -> dict[str, float]:
        count = (input or {}).get("gpuCount") or 1
        return {"minimumBidPrice": round(price * 0.5 * count, 3), "uninterruptablePrice": round(price * count, 3)}
    return resolve


@cache
def _schema() -> Any:
    from graphql import build_schema

    return build_schema(SDL)


def execute(book: PodBook, document: str) -> dict[str, Any]:
    """Run one GraphQL document; the answer as RunPod's API gives it (``data`` and ``errors``)."""
    from graphql import graphql_sync

    result = graphql_sync(_schema(), document, root_value=_Root(book))
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [{"message": _message(error), "path": error.path} for error in result.errors]
    return answer


def _message(error: Any) -> str:
    original = getattr(error, "original_error", None)
    return str(original) if isinstance(original, ApiRefusal) else error.message
