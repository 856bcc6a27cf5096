// SPDX-License-Identifier: MIT
// A minimal ERC-20 for the test chain: fixed decimals chosen at deployment,
// minting open to anyone (it is a test token), and transfers that revert on
// an insufficient balance, so a test can mine a reverted transfer by sending
// more than an account holds with an explicit gas limit.
pragma solidity ^0.8.20;

contract TestToken {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    // Two transfers in one transaction: lets a test check that only the
    // logs to the expected recipient are summed.
    function transferTwo(address to1, uint256 value1, address to2, uint256 value2) external returns (bool) {
        _move(msg.sender, to1, value1);
        _move(msg.sender, to2, value2);
        return true;
    }

    // One transfer among `noise` other events, as in an exchange's batch
    // withdrawal: lets a test check that a payment inside a long receipt counts.
    function transferNoisy(address to, uint256 value, uint256 noise) external returns (bool) {
        for (uint256 i = 0; i < noise; i++) emit Approval(msg.sender, address(uint160(i + 1)), i);
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "allowance too low");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(to != address(0), "transfer to the zero address");
        require(balanceOf[from] >= value, "balance too low");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
