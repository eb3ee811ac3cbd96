# An Aerolith cluster on Azure: a resource group, a virtual network and
# subnet, a network security group, and per node a public IP, a NIC and a
# Linux VM whose custom data is the user data the aerolith_cloud_init data
# source renders.

locals {
  managed    = var.billing_url != null
  image      = split(":", var.image)
  discover   = local.managed ? null : "provider=azure location=${var.location} tag_key=aerolith-cluster tag_value=${var.name}"
  subnet     = cidrsubnet(var.address_space, 8, 0)
  nodes_cidr = local.subnet
  tags = merge(var.tags, {
    "aerolith-cluster"    = var.name
    "aerolith-managed-by" = "aerolith"
  })
}

data "aerolith_cloud_init" "node" {
  count              = var.node_count
  cluster            = var.name
  cloud              = "azure"
  region             = var.location
  node_index         = count.index + 1
  node_count         = var.node_count
  agent_url          = var.agent_url
  agent_sha256       = var.agent_sha256
  admin_key          = var.admin_key
  billing_url        = var.billing_url
  billing_ca         = var.billing_ca
  billing_cluster_id = var.billing_cluster_id
  enrollment_token   = var.enrollment_token
  discover           = local.discover
  insecure_http      = var.insecure_http
}

resource "azurerm_resource_group" "cluster" {
  name     = "aerolith-${var.name}"
  location = var.location
  tags     = local.tags
}

resource "azurerm_virtual_network" "cluster" {
  name                = "aerolith-${var.name}"
  resource_group_name = azurerm_resource_group.cluster.name
  location            = var.location
  address_space       = [var.address_space]
  tags                = local.tags
}

resource "azurerm_subnet" "nodes" {
  name                 = "nodes"
  resource_group_name  = azurerm_resource_group.cluster.name
  virtual_network_name = azurerm_virtual_network.cluster.name
  address_prefixes     = [local.subnet]
}

resource "azurerm_network_security_group" "cluster" {
  name                = "aerolith-${var.name}"
  resource_group_name = azurerm_resource_group.cluster.name
  location            = var.location
  tags                = local.tags

  security_rule {
    name                       = "raft"
    description                = "raft and agent to agent between the cluster's nodes"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_ranges    = ["7070", "7071"]
    source_address_prefix      = local.nodes_cidr
    destination_address_prefix = local.nodes_cidr
  }

  dynamic "security_rule" {
    for_each = length(var.allowed_cidrs) > 0 ? [1] : []
    content {
      name                       = "api"
      description                = "data API clients"
      priority                   = 110
      direction                  = "Inbound"
      access                     = "Allow"
      protocol                   = "Tcp"
      source_port_range          = "*"
      destination_port_range     = "7070"
      source_address_prefixes    = var.allowed_cidrs
      destination_address_prefix = "*"
    }
  }
}

resource "azurerm_subnet_network_security_group_association" "nodes" {
  subnet_id                 = azurerm_subnet.nodes.id
  network_security_group_id = azurerm_network_security_group.cluster.id
}

resource "azurerm_public_ip" "node" {
  count               = var.node_count
  name                = data.aerolith_cloud_init.node[count.index].node_id
  resource_group_name = azurerm_resource_group.cluster.name
  location            = var.location
  allocation_method   = "Static"
  sku                 = "Standard"
  tags                = merge(local.tags, { "aerolith-node" = data.aerolith_cloud_init.node[count.index].node_id })
}

resource "azurerm_network_interface" "node" {
  count               = var.node_count
  name                = data.aerolith_cloud_init.node[count.index].node_id
  resource_group_name = azurerm_resource_group.cluster.name
  location            = var.location
  tags                = merge(local.tags, { "aerolith-node" = data.aerolith_cloud_init.node[count.index].node_id })

  ip_configuration {
    name                          = "primary"
    subnet_id                     = azurerm_subnet.nodes.id
    private_ip_address_allocation = "Dynamic"
    public_ip_address_id          = azurerm_public_ip.node[count.index].id
  }
}

resource "azurerm_linux_virtual_machine" "node" {
  count                 = var.node_count
  name                  = data.aerolith_cloud_init.node[count.index].node_id
  resource_group_name   = azurerm_resource_group.cluster.name
  location              = var.location
  size                  = var.vm_size
  admin_username        = "aerolith"
  network_interface_ids = [azurerm_network_interface.node[count.index].id]
  custom_data           = base64encode(data.aerolith_cloud_init.node[count.index].user_data)
  tags                  = merge(local.tags, { "aerolith-node" = data.aerolith_cloud_init.node[count.index].node_id })

  admin_ssh_key {
    username   = "aerolith"
    public_key = var.ssh_public_key
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
    disk_size_gb         = var.disk_gb
  }

  source_image_reference {
    publisher = local.image[0]
    offer     = local.image[1]
    sku       = local.image[2]
    version   = local.image[3]
  }
}
