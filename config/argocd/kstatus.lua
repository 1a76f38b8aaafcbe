-- Argo CD health check for multipath.kube-multipath.io/MultipathConfig and MultipathWWID (one
-- script for both: they follow kstatus alike): an unobserved generation or Reconciling=True is
-- Progressing, Stalled=True is Degraded and Ready=True is Healthy. Installed as
-- resource.customizations.health.multipath.kube-multipath.io_MultipathConfig and _MultipathWWID.
local hs = {}
if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller"
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  local observed = obj.status.observedGeneration
  if observed == nil or observed < obj.metadata.generation then
    hs.status = "Progressing"
    hs.message = "Waiting for the controller to observe generation " .. tostring(obj.metadata.generation)
    return hs
  end
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end
local function msg(c, fallback)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end
local c = conditions["Stalled"]
if c ~= nil and c.status == "True" then
  hs.status = "Degraded"
  hs.message = msg(c, "Stalled")
  return hs
end
c = conditions["Reconciling"]
if c ~= nil and c.status == "True" then
  hs.status = "Progressing"
  hs.message = msg(c, "Reconciling")
  return hs
end
c = conditions["Ready"]
if c ~= nil and c.status == "True" then
  hs.status = "Healthy"
  hs.message = msg(c, "Ready")
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the controller"
return hs
